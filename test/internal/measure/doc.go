// Package measure is what the measurement tools under test/cmd (kpf-scale,
// kpf-soak, kpf-dataplane, kpf-startup, engine-scale) share, one shape per
// concept:
//
//   - a tool's main: its logger and signal context (Start), and for the
//     tools that print a table, printing it and writing it to --out
//     (RunTable);
//   - the kpf under test: building it (BuildKpf), the environment of its
//     runs (Env), its state directory for a workspace (StateDir), and a
//     running `kpf apply --watch` (StartWatch, Watch);
//   - a process's CPU time and memory, from /proc (CPUTicks, RSS, PeakRSS),
//     and the machine's load (LoadAvg);
//   - small helpers: Sleep, Tail, SyncBuffer, IsInterrupted, Percentile.
//
// It owns no figure, table layout or goal: those stay with each tool.
//
// It may import kpf's state package (to find a workspace's state
// directory, as the tools did) and go-hclog; it must not import kpf's other
// production packages, test/cluster (it knows nothing of the cluster) or
// anything from test/e2e. The /proc readers need Linux; elsewhere they
// return errors.
package measure
