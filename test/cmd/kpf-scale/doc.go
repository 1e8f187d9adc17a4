//go:build linux

// Command kpf-scale measures what users of kpf feel, with real processes on
// the local control plane (package test/cluster), and prints a Markdown
// table (docs/performance.md holds the figures):
//
//   - `kpf plan` wall time and peak RSS on a 100-forward workspace;
//   - `kpf apply` of the 100 forwards: wall time until every forward serves
//     bytes, and the memory of the forward processes (RSS and PSS);
//   - `kpf apply --watch` idle for 60 s: CPU seconds used by kpf, and the
//     processes it spawns (counted by a kubectl shim, and by polling the
//     children of kpf);
//   - recovery: kill -9 one forward's process, 20 times; time until it
//     serves again, p50 and p95.
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
// It may import test/cluster and kpf's own packages (to read state and check
// processes); nothing imports it.
package main
