// Package native is the runtime in which kpf serves forwards itself: one
// background kpf process per workspace, the agent, holds every native
// forward of that workspace (runtime/native/engine does the forwarding
// with client-go). `kpf apply` starts the agent detached in its own
// session, so forwards outlive the command; the CLI talks to it over a
// unix socket in the workspace's state directory (0600 in a 0700
// directory; no TCP port) with a versioned protocol of JSON lines.
//
// The CLI dials the socket only when it is a socket of its own user (not a
// link to another workspace's) and uses an agent only when the state
// directory its hello names is its own. The agent (serve.go) refuses peers
// of another uid, reads one request of at most MaxRequest bytes within a
// deadline, answers through a bounded per-client queue (a client that does
// not read is dropped, never waited for), recovers a panic as that
// request's error, keeps accepting through EMFILE and the like, and closes
// every connection when it exits. Its files in the state directory
// (logs/agent.out, logs/agent.log) are opened through internal/safefs.
//
// The agent exits once its workspace has no forwards; a kpf of another
// version replaces it. Because the agent holds its forwards' listeners,
// an agent that dies leaves nothing running: its forwards are simply gone,
// and every handle naming them reads as not alive.
//
// Runtime (the client side) implements runtime.Runtime, runtime.Events,
// runtime.Sweeper and runtime.Logs; Serve runs the agent.
//
// native must not import spec, reconcile, state or cmd.
package native
