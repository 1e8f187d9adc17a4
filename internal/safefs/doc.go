// Package safefs opens the files kpf keeps in its state directory without
// following symbolic links and without blocking on FIFOs or devices: a
// file that is not a regular file (or is a link) is refused with an error
// that says so; MkdirAll refuses a directory that is a link. The state
// package, the kubectl runtime's logs and the native runtime's agent files
// (agent.out, agent.log) use it. WriteFileAtomic replaces a file whole
// (the state file, the env file, kpf run's files).
//
// safefs imports only the standard library and golang.org/x/sys; it must
// not import anything of kpf.
package safefs
