//go:build linux

// Command engine-scale measures kpf's native forwarding engine in one
// process against the local control plane (package test/cluster) and
// prints a Markdown table:
//
//   - start → every forward serves bytes, for N forwards over S services;
//   - RSS and live heap of the process: baseline (clients loaded, engine
//     empty), N idle forwards, after one request through each, and once
//     the tunnels closed idle;
//   - goroutines at each step.
//
// Usage:
//
//	go run ./test/cmd/engine-scale -n 1000 -services 10
//
// It starts its own cluster (binaries cached by `make cluster-bin`) and
// stops it on exit. The cluster's pod backends (test/cluster) run in this
// process too: their servers and connections are in the figures, which are
// therefore upper bounds for the engine. It may import test/cluster,
// test/internal/measure (what the measurement tools share) and kpf's own
// packages.
//
// It is a measuring tool: nothing in kpf imports it.
package main
