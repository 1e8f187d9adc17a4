// Package safefs opens the files kpf keeps in its state directory without
// following symbolic links and without blocking on FIFOs or devices: a
// file that is not a regular file (or is a link) is refused with an error
// that says so. The state package and the kubectl runtime's logs use it.
//
// safefs imports only the standard library and golang.org/x/sys; it must
// not import anything of kpf.
package safefs
