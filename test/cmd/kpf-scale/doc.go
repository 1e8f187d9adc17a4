//go:build linux

// Command kpf-scale measures what users of kpf feel, with real processes on
// the local control plane (package test/cluster), for kpf's runtimes side
// by side in one run (--runtimes, default kubectl,native), and prints a
// Markdown table with a column per runtime (docs/performance.md holds the
// figures):
//
//   - `kpf plan` wall time and peak RSS on a 100-forward workspace (also
//     with hyperfine when it is on PATH);
//   - `kpf apply` of the 100 forwards: wall time until every forward serves
//     bytes, and the memory of what serves them (the kubectl processes'
//     RSS and PSS, or the agent's);
//   - `kpf apply --watch` idle for 60 s: CPU seconds used by kpf and by
//     what serves the forwards (native: after the tunnels closed idle; with
//     the spec's health blocks the agent checks every forward while idle,
//     --health-blocks=false writes none), and
//     the processes the watch spawns (counted by a kubectl shim, and by
//     polling the children of kpf);
//   - native, with no watch: kill -9 of the serving agent (5 times; its
//     supervisor starts it again; until all 100 serve again), p50 and p95,
//     and the supervisor's RSS (--measure comeback);
//   - recovery under the watch: kill -9 one forward's kubectl (20 times),
//     or the agent (5 times; until all 100 serve again), p50 and p95;
//   - with its own cluster: a rolling restart of a 2-replica deployment
//     under one new connection every 20 ms for 20 s (failed requests), and
//     a 1-replica deployment's pod deleted (first answer from the
//     replacement after it was seen Ready);
//   - native: 1,000 forwards in one agent: its RSS idle, after one request
//     through each, and after the tunnels closed idle;
//   - native: a flood of --flood connections (10,000) at once on one
//     forward, beyond its max_connections, while another forward of the
//     agent is fetched from every 20 ms and `kpf status` runs in a loop:
//     connections served, refused and failed, failed fetches, status
//     latency, the agent's RSS;
//   - the kpf binary's size, stripped and not, the modules that dominate
//     it, and that k8s.io/kubectl and k8s.io/cli-runtime are not linked.
//
// Usage (make scale builds bin/kpf and runs this):
//
//	go run ./test/cmd/kpf-scale --kpf bin/kpf
//	go run ./test/cmd/kpf-scale --kubeconfig $KUBECONFIG --targets service/web:80,service/api:8080 --namespace demo
//
// Without --kubeconfig it starts its own cluster (binaries cached by
// `make cluster-bin`) and deploys --deployments echo deployments. Whatever
// happens, it stops what it started: the watch, the forwards (kpf destroy)
// and the cluster.
//
// It may import test/cluster, test/internal/measure (what the measurement
// tools share) and kpf's own packages (to read state and check processes);
// nothing imports it.
package main
