// Package kubectl implements runtime.Runtime with detached `kubectl
// port-forward` processes: argv only (never a shell), --context, --namespace
// and --address always passed, output appended to a per-forward log file
// (opened without following links, rotated while the forward runs),
// readiness from kubectl's "Forwarding from" line, each process in its own
// session so it outlives kpf. Every process it starts is marked in its
// environment with the workspace and the forward's name, so that Sweep finds
// what a killed kpf left unrecorded; a handle records the process's start
// time, executable, arguments and boot, all checked (through a pinned
// process) before any signal. It also classifies kubectl's error messages
// (permanent, port in use, retryable).
//
// Values of a forward's sensitive fields (runtime.Spec.Sensitive) are
// scrubbed from Start's errors and from the line kpf writes to the log;
// kubectl's own output reaches the log through a filter process that
// scrubs them (Runtime.Filter, ScrubLog) when the forward has any, and as
// kubectl writes it otherwise.
//
// kubectl imports runtime, runtime/proc, internal/safefs and
// internal/redact only. It must
// not import spec, state, reconcile or hcl.
package kubectl
