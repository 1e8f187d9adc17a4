#!/usr/bin/env bash
# The demo behind `make demo`: kpf on a real local control plane.
# Expects bin/kpf and bin/testcluster (the Makefile builds both).
set -euo pipefail
cd "$(dirname "$0")/.."

KPF=${KPF:-bin/kpf}
TESTCLUSTER=${TESTCLUSTER:-bin/testcluster}
CLUSTER_STATE=${CLUSTER_STATE:-${TMPDIR:-/tmp}/kpf-testcluster}
WS=examples/demo

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# fetch URL: curl if present, else bash's /dev/tcp (a fresh machine may lack curl).
fetch() {
	local url=$1
	if command -v curl >/dev/null; then
		curl -fsS --max-time 5 "$url"
		return
	fi
	local hostport=${url#http://}
	hostport=${hostport%%/*}
	local path=/${url#http://*/}
	exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
	sed '1,/^\r$/d' <&3
	exec 3<&-
}

if ! "$TESTCLUSTER" status --state "$CLUSTER_STATE" >/dev/null 2>&1; then
	say "Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
	"$TESTCLUSTER" up --state "$CLUSTER_STATE"
fi
KUBECONFIG=$(cat "$CLUSTER_STATE/ready")
export KUBECONFIG

say "kpf plan -C $WS"
"$KPF" -C "$WS" plan

say "kpf apply -C $WS"
"$KPF" -C "$WS" apply

say "kpf status -C $WS"
"$KPF" -C "$WS" status

for name in web api; do
	url=$("$KPF" -C "$WS" open "$name" --print)
	say "GET $url (through forward $name; the backend answers with its pod's name)"
	fetch "$url"
done

say "Rolling restart of deployment web while fetching through forward web every 50 ms"
web=$("$KPF" -C "$WS" open web --print)
kubectl --context kpf-local -n demo rollout restart deployment/web >/dev/null
ok=0 failed=0 pods=""
for _ in $(seq 1 100); do
	if body=$(fetch "$web" 2>/dev/null) && [ -n "$body" ]; then
		ok=$((ok + 1))
		case " $pods " in *" $body "*) ;; *) pods="$pods $body" ;; esac
	else
		failed=$((failed + 1))
	fi
	sleep 0.05
done
echo "$ok requests served, $failed failed; pods that answered:$pods"
kubectl --context kpf-local -n demo rollout status deployment/web --timeout=60s >/dev/null

say "Kill kpf's agent (the process that holds the forwards) behind kpf's back, then plan and apply again"
pid=$(pgrep -f -- "agent --state-dir .*$(basename "$(cd "$WS" && pwd)")-" | head -1 || true)
if [ -n "$pid" ]; then
	echo "kill -9 $pid"
	kill -9 "$pid" || true
	sleep 0.2
fi
"$KPF" -C "$WS" plan || true
"$KPF" -C "$WS" apply
fetch "$web"

cat <<MSG

The forwards keep running after kpf exits, served by kpf's agent (one background
process for the workspace; its log: kpf's state directory, logs/agent.log). Next:
  export KUBECONFIG=$KUBECONFIG
  $KPF -C $WS apply --watch     # keep them alive: restarts what dies, follows spec edits
  $KPF -C $WS status
  $KPF -C $WS logs web          # the forward's connections and pod switches
  $KPF -C $WS destroy           # stop the forwards (the agent exits with the last one)
  make cluster-down             # stop the local control plane
MSG
