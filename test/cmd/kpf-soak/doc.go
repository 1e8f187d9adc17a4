//go:build linux

// Command kpf-soak keeps continuous mixed traffic through many native
// forwards on the local control plane (package test/cluster) while faults
// rotate, and reports per fault how kpf rode it out.
//
// It starts its own cluster with --deployments echo deployments of 2
// replicas, applies --forwards native forwards over them with `kpf apply`
// (with --watch, under `kpf apply --watch`), and keeps three kinds of
// traffic going (traffic.go):
//
//   - HTTP requests, one after the other round the forwards, each answer
//     checked to come from a pod of the forward's deployment (an answer
//     that is the backend's greeting, because the request reached the pod
//     over 200 ms after its connection, counts as late, not failed);
//   - echoed bulk streams of pseudo-random bytes (different per stream),
//     verified by SHA-256 against what was sent (bytes counted on a
//     mismatch);
//   - an idle connection per forward, watched for being cut, reopened
//     after each fault and checked at the end by an echoed token.
//
// The faults (faults.go, --faults picks and orders them): a pod deleted, a
// rolling restart, a client that sends a lot and never reads, a flood of
// --flood-conns connections held open on one forward, kwok (the kubelet,
// which carries every port-forward stream) frozen by SIGSTOP, the API
// server stopped and started, and the agent killed with SIGKILL (only a
// pid whose executable is the soak's kpf binary). After each fault it waits
// until every forward answers again, reopens the cut idle connections, lets
// the traffic run calm for --gap and reads the agent's VmRSS and open fds
// from /proc (at the end after --settle). --keep-logs keeps the agent's
// logs and every forward's events (`kpf logs`) for a post-mortem.
//
// It prints a Markdown table, a row per fault (report.go), then the goals;
// it exits 1 when one is missed: zero corrupted bytes; zero failed requests
// in the baseline and through pod deletions, rollouts and the slow reader;
// no idle connection cut by the slow reader or the flood; every fault
// recovered within --recover-within; the agent's RSS and fds at the end
// within --rss-slack/--rss-slack-mb and --fd-slack of the baseline; every
// idle connection left open echoes at the end. Failures during the agent
// kill, the freeze, the API restart and the flood are reported, not goals.
//
// Usage (make soak and make soak-short build bin/kpf and run this):
//
//	go run ./test/cmd/kpf-soak --kpf bin/kpf --duration 3m --watch --faults pod-delete,rollout
//
// Whatever happens, it stops what it started: the watch, the forwards
// (kpf destroy) and the cluster.
//
// It may import test/cluster, test/internal/measure (what the measurement
// tools share) and kpf's own packages (to read state and ask the agent its
// pid); nothing imports it.
package main
