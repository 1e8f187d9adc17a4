// Package measure is what the measurement tools under test/cmd (kpf-scale,
// kpf-soak, kpf-dataplane, kpf-startup, engine-scale) share, one shape per
// concept:
//
//   - a tool's main: its logger and signal context (Start), for the tools
//     that print a table, printing it and writing it to --out (RunTable),
//     and stopping what it started with a context of its own (Cleanup);
//   - the kpf under test: building it (BuildKpf), the environment of its
//     runs (Env) and a running `kpf apply --watch` (StartWatch, Watch);
//   - a process's CPU time and memory, from /proc (CPUTicks, RSS, PeakRSS),
//     and the machine's load (LoadAvg);
//   - small helpers: Sleep, Tail, SyncBuffer, IsInterrupted, Percentile.
//
// It owns no figure, table layout or goal: those stay with each tool.
//
// It imports no kpf package (kpf-startup, which imports none, uses it too),
// nor test/cluster (it knows nothing of the cluster) nor anything from
// test/e2e; beyond the standard library, only go-hclog. Where a tool needs
// kpf's state, kpfstate holds what they share. The /proc readers need
// Linux; elsewhere they return errors.
package measure
