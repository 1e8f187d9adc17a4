// Package state owns kpf's on-disk state: where it lives (Root, Dir; a
// workspace is named by its path with links resolved), the per-workspace
// Store with its state.json (atomic saves, refusing to overwrite a file it
// cannot read), the forwards' log paths and the workspace lock that
// serialises commands that change state (its file names the holder's pid
// and, on a second line, what it is: HolderWatch for `apply --watch`, whose
// lock is not waited for). Commands that change nothing open
// the Store with OpenReadOnly, which creates, tightens and locks nothing.
//
// Nothing in the state directory is trusted to be what it should be: the
// root must be the user's and writable by no one else, the workspace and
// logs directories must be real directories of the user (never links), and
// state.json and the lock are opened without following links or blocking
// on FIFOs (internal/safefs); a state.json over MaxFileSize (8 MiB, about
// 13 times what 1,000 forwards take) is refused before it is read, and
// never written.
//
// The state file records what kpf started, never what is running: callers
// observe that again every time. state imports runtime for runtime.Handle,
// runtime/kubectl/handle (the kubectl runtime builds the handles of
// upgraded version-1 files) and internal/safefs; it must not import spec, reconcile or hcl, and it
// never starts or signals processes.
package state
