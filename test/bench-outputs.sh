#!/usr/bin/env bash
# Figures for issue 16 (apps find their forwards), printed, never asserted:
#   1. kpf output and kpf env, whole process, 100 running native forwards
#      (and kpf plan beside them for comparison);
#   2. kpf run -- true with 10 native forwards, from start to exit (it
#      starts the agent and the forwards, waits until they serve, runs true,
#      stops them and the idle agent).
# Against a local control plane of its own (test/README.md), state in a
# temporary directory. Needs hyperfine (apt-get install hyperfine).
#   test/bench-outputs.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
make -s build >/dev/null
go build -o bin/testcluster ./test/cmd/testcluster
tmp=$(mktemp -d)
cluster="$tmp/cluster-state"
export KPF_STATE_DIR="$tmp/kpf-state"
ws100="$tmp/ws100" ws10="$tmp/ws10"
mkdir -p "$ws100" "$ws10"
cleanup() {
  bin/kpf -C "$ws100" destroy >/dev/null 2>&1 || true
  bin/kpf -C "$ws10" destroy >/dev/null 2>&1 || true
  bin/testcluster down --state "$cluster" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
bin/testcluster up --state "$cluster" >/dev/null
export KUBECONFIG="$cluster/cluster/kubeconfig"

targets=("service/web:http" "deployment/api:8080" "statefulset/db:5432")
spec() { # N: N forwards over the demo's three workloads, one output each
  printf 'kpf {\n  env_file = ".env.kpf"\n}\ndefaults {\n  context   = "kpf-local"\n  namespace = "demo"\n}\n'
  for i in $(seq 1 "$1"); do
    t=${targets[$((i % 3))]}
    printf 'forward "f%d" {\n  target      = "%s"\n  remote_port = "%s"\n}\n' "$i" "${t%%:*}" "${t##*:}"
    printf 'output "F%d_URL" {\n  value = "http://${forward.f%d.address}/"\n}\n' "$i" "$i"
  done
}
spec 100 > "$ws100/kpf.hcl"
spec 10 > "$ws10/kpf.hcl"

bin/kpf -C "$ws100" apply --wait=2m >/dev/null
echo "== 100 native forwards, 100 outputs: kpf output / kpf env / kpf plan (whole process; kpf version: the process start alone)"
hyperfine -N --warmup 3 --runs "$runs" \
  "bin/kpf version" \
  "bin/kpf -C $ws100 output" \
  "bin/kpf -C $ws100 env" \
  "bin/kpf -C $ws100 env --format dotenv" \
  "bin/kpf -C $ws100 plan"
bin/kpf -C "$ws100" destroy >/dev/null

echo "== kpf run -- true, 10 native forwards (start to exit)"
hyperfine -N --warmup 1 --runs "$runs" "bin/kpf -C $ws10 run -- true"
