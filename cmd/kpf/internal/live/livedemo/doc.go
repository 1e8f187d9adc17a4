// Command livedemo runs the live view on a made-up workspace whose forwards
// move traffic, restart and fail, so the view can be tried in a terminal
// (and is, by the live package's tmux test) without a cluster:
//
//	go run ./cmd/kpf/internal/live/livedemo [--no-color] [--read-only]
//
// It is also the reference for wiring the view: build a Model, run it with
// NewProgram on the terminal, Send snapshots from another goroutine.
//
// It imports only the live package and the standard library: no kpf runtime,
// no cluster.
package main
