//go:build linux

// Command kpf-dataplane measures what a forward exists for — carrying
// bytes — on the local control plane (package test/cluster), for every path
// side by side in one run, and prints a Markdown table with a row per path
// (it reports, it never asserts a timing):
//
//   - the backend directly (the path's floor: test/cluster's server of the
//     pod, on loopback);
//   - `kubectl port-forward`, WebSocket (its default) and SPDY
//     (KUBECTL_PORT_FORWARD_WEBSOCKETS=false);
//   - kpf native, SPDY (its default where the API server accepts SPDY) and
//     WebSocket (the same variable, true or false, in the environment of
//     the kpf that starts the agent).
//
// Figures: bulk MiB/s towards the pod and from it (one stream, and 8
// streams at once; the backend's sink and source modes), round-trip p50/p99
// of HTTP requests on one kept-alive connection, new-connection p50/p99
// (dial, one request, the answer), 1,000 connections opened at once on one
// forward × 3 requests (failed: an error, or a first byte at the pod later
// than 200 ms, when the backend greets first and the client sees no HTTP),
// round-trip p99 beside a stalled reader (a second connection to the same
// pod that sends --stall bytes to the echo and never reads; beside the
// same round trips just before it, in --stall-reps rounds pooled; "blocked"
// when a round trip got no answer within 5 s), the serving process's RSS per
// active connection (--hold connections open, each after one request) and
// its CPU per GiB carried in the bulk measures.
//
// kubefwd is not measured (its module is not in the tools module).
// --kubectl picks the kubectl binary (default: the one on PATH); the note
// under the table names its version. A kubectl built from the modules kpf
// uses (`go build k8s.io/kubernetes/cmd/kubectl` in test/tools) runs the
// same client-go and Go as kpf, so what differs between the two is kpf's
// own code.
//
// --gctrace runs kpf's agents with GODEBUG=gctrace=1 and adds a note per
// measure and kpf path: the agent's garbage collections in it (forced
// ones — the agent's memory release — apart), their stop-the-world
// pauses and the MB allocated, for the uploads and the downloads apart
// and for the round trips beside a stalled reader alone (gctrace.go).
//
// Usage (make dataplane builds bin/kpf and runs this):
//
//	go run ./test/cmd/kpf-dataplane --kpf bin/kpf [--bulk 64] [--rtts 2000] ...
//
// It may import test/cluster, test/internal/measure (what the measurement
// tools share) and kpf's own packages; nothing imports it.
package main
