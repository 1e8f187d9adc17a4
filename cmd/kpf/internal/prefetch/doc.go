// Package prefetch starts parsing the workspace's spec files before kpf's
// main function runs (issue 20 point 11).
//
// Go initialises packages one after the other on one goroutine; on a
// machine with more than one core the others idle until main starts. This
// package's init, which runs as soon as package spec is initialised and
// before most of kpf's other dependencies (client-go, apimachinery, the
// terminal libraries) are, reads the command line; when it names a command
// that loads the spec first thing (Commands), it calls spec.Prefetch with
// the workspace directory (-C, --dir), and the files are read and parsed
// while the rest of the process starts. `kpf plan` of 100 forwards spends
// more of its own time parsing HCL than on anything else.
//
// The command line is read the way cobra would read it only as far as this
// needs: kpf's global flags before the command (ValueFlags take a value,
// BoolFlags do not), the command, and -C/--dir wherever they are; anything
// it does not recognise before the command (a help flag, an unknown flag,
// another command) means no prefetch. Getting it wrong costs at most some
// CPU on another core, never a different result: spec.Load takes a
// prefetched parse only for the bytes it read itself (see spec.Prefetch).
// cmd/kpf's tests hold these lists to the root command's flags and
// commands.
//
// It imports only package spec and the standard library, so that its init
// comes early; nothing imports it but package main, for its init.
package prefetch
