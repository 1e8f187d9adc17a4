// Package native is the runtime in which kpf serves forwards itself: one
// background kpf process per workspace, the agent, holds every native
// forward of that workspace (runtime/native/engine does the forwarding
// with client-go). `kpf apply` starts the agent detached in its own
// session, so forwards outlive the command; the CLI talks to it over a
// unix socket in the workspace's state directory (0600 in a 0700
// directory; no TCP port) with a versioned protocol of JSON lines. The
// protocol's messages (protocol.go) carry wire types of their own
// (wire.go), mapped from and to runtime.Spec, kubeconfig.Source,
// engine.Status and engine.Event there only; testdata/protocol holds
// protocol 1 as golden JSON (go test -run TestProtocolGolden -update).
// client.go holds the calls to the agent, lifecycle.go how the CLI finds,
// starts, replaces and stops it, eventview.go how an event reads in kpf
// logs.
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
// version replaces it. On unix the agent is two processes: a small
// supervisor (Supervise) binds the socket and passes it to the serving
// agent (Serve, `kpf agent --serve`), which holds the forwards' listeners
// and persists its forward set (ForwardsFile: ids, specs with the bound
// ports in the wire's shape, so a target is written and read as TYPE/NAME
// by wire.go alone, kubeconfig sources) on every start and stop — a stopped forward
// leaves the file before it stops. When the serving agent dies (kill -9,
// OOM, a panic), the supervisor starts another at once, on the same
// socket and as the same agent instance, which serves every persisted
// forward again under its id: the CLI's handles still name them. The
// supervisor also keeps a copy of every forward's listener (Kept, kept.go:
// the serving agent passes each one it binds over a socket pair, and tells
// it to close its copy before a forward's Stop returns), so a forward's
// port stays bound while no serving agent runs: a client that connects then
// waits in the backlog, and the next agent inherits the listener. Only a
// crash loop is slowed down (backoff), and given up only while nothing is
// persisted. When both die, or on Windows (a single process) when the
// agent dies, its forwards are gone and every handle naming them reads as
// not alive.
//
// Values from sensitive variables (runtime.Spec.Sensitive) never leave the
// agent: its start errors, its forwards' statuses and events and its log
// are scrubbed of them (scrub.go).
//
// Runtime (the client side) implements runtime.Runtime, runtime.Events,
// runtime.Sweeper and runtime.Logs; Supervise and Serve run the agent.
//
// native must not import spec, reconcile, state or cmd (internal/safefs is
// how it opens the forward set).
package native
