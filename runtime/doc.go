// Package runtime defines how kpf runs a forward: the Runtime interface
// (Start, Stop, Inspect), the optional Events interface, the Spec a runtime
// is given, and the Handle that identifies what it started — opaque above
// the runtime, tagged with the runtime's name so that the Mux always stops
// a forward with the runtime that started it.
//
// Implementations live in subpackages: runtime/kubectl runs detached
// `kubectl port-forward` processes (runtime/proc holds the OS-specific
// process identity and signalling it builds on); runtime/kubeconfig reads
// kubeconfigs in-process.
//
// runtime must not import spec, state, reconcile or anything that reads HCL:
// it only ever sees resolved, plain values.
package runtime
