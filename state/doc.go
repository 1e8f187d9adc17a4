// Package state owns kpf's on-disk state: where it lives (Root, Dir), the
// per-workspace Store with its state.json (atomic saves, refusing to
// overwrite a file it cannot read), the forwards' log paths and the
// workspace lock that serialises commands that change state.
//
// The state file records what kpf started, never what is running: callers
// observe that again every time. state imports runtime for runtime.Handle
// only; it must not import spec, reconcile or hcl, and it never starts or
// signals processes.
package state
