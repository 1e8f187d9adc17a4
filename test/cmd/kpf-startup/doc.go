// Command kpf-startup prints how long kpf takes to start, against a minimal
// Go binary built with the same Go (issue 20, point 11). It needs no cluster:
//
//   - wall time and CPU time (user+system) of a hello world, `kpf version`,
//     and `kpf plan` and `kpf status` of a 100-forward workspace (a
//     kubeconfig whose cluster is never dialled: neither reads a cluster
//     for forwards that never ran),
//     run round-robin in a shuffled order each round so the machine's load
//     falls on every command alike; medians, the 10th–90th percentile spread,
//     and the ratios against the goals (`kpf version` ≤ 3× hello,
//     `kpf plan` ≤ 1.5× `kpf version`);
//   - with --base, a second kpf binary (e.g. one built from main) measured
//     in the same rounds, so before and after come from one run;
//   - `GODEBUG=inittrace=1 kpf version`: per package, the median init clock
//     over --inittrace-runs runs; the top 10 and the sum.
//
// It reports, never asserts: the exit status is 0 unless a command fails.
// `make startup` builds kpf as the release does (CGO_ENABLED=0, -s -w) and
// runs it. It is a test tool: it imports nothing from kpf (only
// test/internal/measure, which imports no kpf package either).
package main
