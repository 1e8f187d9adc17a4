// Package native is the runtime in which kpf serves forwards itself: one
// background kpf process per workspace, the agent, holds every native
// forward of that workspace (runtime/native/engine does the forwarding
// with client-go). `kpf apply` starts the agent detached in its own
// session, so forwards outlive the command; the CLI talks to it over a
// unix socket in the workspace's state directory (0600 in a 0700
// directory; no TCP port) with a versioned protocol of JSON lines.
//
// The agent exits once its workspace has no forwards; a kpf of another
// version replaces it. Because the agent holds its forwards' listeners,
// an agent that dies leaves nothing running: its forwards are simply gone,
// and every handle naming them reads as not alive.
//
// Values from sensitive variables (runtime.Spec.Sensitive) never leave the
// agent: its start errors, its forwards' statuses and events and its log
// are scrubbed of them (scrub.go).
//
// Runtime (the client side) implements runtime.Runtime, runtime.Events,
// runtime.Sweeper and runtime.Logs; Serve runs the agent.
//
// native must not import spec, reconcile, state or cmd.
package native
