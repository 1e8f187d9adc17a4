// Package runtime defines how kpf runs a forward: the Runtime interface
// (Start, Stop, Inspect), the Spec a runtime is given, and the Handle that
// identifies the process it started (pid plus process start time, so a reused
// pid is never mistaken for a forward).
//
// Implementations live in subpackages: runtime/kubectl runs detached
// `kubectl port-forward` processes, runtime/proc holds the OS-specific
// process identity and signalling they build on.
//
// runtime must not import spec, state, reconcile or anything that reads HCL:
// it only ever sees resolved, plain values.
package runtime
