// Command kpf is the command-line interface: it parses flags, loads the spec
// through package spec, asks package reconcile for a plan, renders views,
// and maps results to exit codes. It owns no reconciling logic of its own.
//
// Results go to stdout; logs (hclog, key/value) go to stderr.
//
// It may import every kpf package; no kpf package imports it.
package main
