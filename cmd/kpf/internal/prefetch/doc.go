// Package prefetch starts parsing the workspace's spec files before kpf's
// main function runs (issue 20 point 11).
//
// Go initialises packages one after the other on one goroutine; on a
// machine with more than one core the others idle until main starts. This
// package's init, which runs as soon as HCL's parser and package
// internal/specfile are initialised and before a third of kpf's other
// package inits (client-go, apimachinery, net, the terminal libraries)
// are, reads the command line; when it names a command that loads the spec
// first thing (Commands), it calls specfile.Prefetch with the workspace
// directory (-C, --dir), and the files are read and parsed while the rest
// of the process starts. `kpf plan` of 100 forwards spends
// more of its own time parsing HCL than on anything else.
//
// The command line is read the way cobra would read it only as far as this
// needs: kpf's global flags before the command (ValueFlags take a value,
// BoolFlags do not), the command, and -C/--dir wherever they are; anything
// it does not recognise before the command (a help flag, an unknown flag,
// another command) means no prefetch. Getting it wrong costs at most some
// CPU on another core, never a different result: spec.Load takes a
// prefetched parse only for the bytes it read itself (see
// specfile.Prefetch).
// cmd/kpf's tests hold these lists to the root command's flags and
// commands.
//
// It imports only internal/specfile and the standard library, so that its
// init comes early: package spec, which imports net/netip, is initialised
// about twenty packages later (Go initialises packages in the order of
// their import paths as soon as their imports are). Nothing imports it but
// package main, for its init.
package prefetch
