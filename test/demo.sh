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

say "Kill forward web's kubectl behind kpf's back, then plan and apply again"
pid=$("$KPF" -C "$WS" status --json | tr -d '\n' | sed -n 's/.*"name": "web"[^}]*"pid": \([0-9]*\).*/\1/p')
if [ -n "$pid" ]; then
	kill -9 "$pid" || true
	sleep 0.5
fi
"$KPF" -C "$WS" plan || true
"$KPF" -C "$WS" apply
fetch "$("$KPF" -C "$WS" open web --print)"

cat <<MSG

The forwards keep running after kpf exits. Next:
  export KUBECONFIG=$KUBECONFIG
  $KPF -C $WS apply --watch     # keep them alive: restarts what dies, follows spec edits
  $KPF -C $WS status
  $KPF -C $WS destroy           # stop the forwards
  make cluster-down             # stop the local control plane
MSG
