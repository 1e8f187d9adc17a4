// Package engine serves port-forwards in-process with client-go: the core
// of kpf's native runtime, run inside one long-lived process (the agent)
// that holds many forwards.
//
//	c, _ := engine.NewClients(restConfig)       // one per kube context
//	e := engine.New(engine.Options{Log: log})
//	f, err := e.Start(ctx, c, engine.Config{Name: "api", Target: kinds.Target{Kind: kinds.Service, Name: "api"},
//		Namespace: "shop", Address: "127.0.0.1", LocalPort: 8080, RemotePort: "http"})
//	f.Status(); f.Events(since); f.Stop(); e.Close()
//
// What it owns:
//   - Target resolution: service/ (its selector; the service port maps to
//     its targetPort, a named one resolved per pod), deployment/ and
//     statefulset/ (spec.selector), pod/NAME, and label selectors; named
//     remote ports from the chosen pod's containerPorts. Not found,
//     forbidden and malformed targets (an unknown kind in Config.Target,
//     which the caller parsed: the engine never parses a target string)
//     are runtime.Permanent (errors.Is runtime.ErrPermanent).
//   - Pod sources: one informer per (Clients, namespace, selector), shared
//     by the forwards with that key and stopped with the last. Eligible
//     pods are Running, Ready and not terminating. Where watching pods is
//     forbidden but listing is allowed, each new connection lists instead;
//     for pod/NAME where listing is forbidden too, it reads the pod.
//   - Listeners: bound once at Start (through Options.Listen, which the
//     agent uses to hand over the listeners its supervisor kept through a
//     restart) on an IP literal only (a host name or
//     "" wraps runtime.ErrPermanent; a taken port wraps
//     runtime.ErrPortInUse) and kept until Stop, whatever the pods do. A
//     failed Accept (out of file descriptors) is retried after a pause
//     doubling from 5 ms to 1 s; only a closed listener ends the loop.
//     Config.MaxConnections (default DefaultMaxConnections, 4096) caps the
//     connections served at once: one more is accepted and reset at once,
//     never queued, and counted (Status.Refused). Status.Active leaves out
//     a connection whose client sent EOF (it may still get the pod's last
//     bytes for HalfCloseTimeout, but nobody is using it), and Status.Pod
//     forgets a pod once it is deleted, replaced or not Ready.
//     Each new local connection goes to a pod Ready at that moment (one
//     whose tunnel is open first, else the first by name); with none Ready
//     it waits up to Options.PodWaitTimeout, woken by the informer.
//   - Tunnels: one upgraded connection per pod and Clients, shared by every
//     stream of every forward to it, dialed on first use over the
//     Transport of its Clients or the Options (TransportAuto: SPDY, and
//     SPDY over WebSocket where the SPDY upgrade is refused, remembered
//     per Clients), closed after Options.IdleTimeout without streams. On both
//     transports each SPDY frame goes out in one Write (frameConn; on
//     plain SPDY through framedSPDY): spdystream writes a data frame in
//     three pieces and a control frame in more, and each Write is a TLS
//     record of its own (and on the WebSocket tunnel a WebSocket message),
//     for kpf and for the API server. A data frame to the pod carries at
//     most upFrame bytes, so that with its headers it fills two TLS
//     records exactly. A pod that
//     runs but is not Ready yet is dialed ahead when its source is in use,
//     so a rollout's replacement has its tunnel when it turns Ready. Per
//     local connection it drives an error and a data stream itself,
//     created at once (one round trip to the node, not two; not
//     portforward.PortForwarder, which drops the whole connection on one
//     stream's error): an error ends that connection only; a failed stream
//     creation — refused, unanswered within DialTimeout, or cut short by
//     its tunnel closing (its pod went away) — closes the tunnel and
//     retries once, picking a Ready pod again. A pod that refuses a
//     connection before sending a byte (Ready, but its port does not accept
//     yet, or it is just going away: the error stream says so) has not
//     seen it: what the client sent so far (up to 64 KiB) is replayed to
//     another Ready pod, or to the same one after a pause, for up to
//     Options.RefusedRetry. A pod that cannot be dialed (deleted between
//     the choice and the dial: the API server says not found) has not
//     seen it either: it goes to another Ready pod, or waits for one,
//     within the same bound; a dial the API server forbids fails the
//     connection at once (every pod would answer the same).
//   - No head-of-line blocking: spdystream (on both transports: the
//     WebSocket tunnel carries SPDY frames) hands each frame to one of five
//     workers per tunnel and blocks the worker until the frame's stream
//     takes it, and SPDY as the API server speaks it has no per-stream flow
//     control; so a local client that stops reading would stall every
//     connection through its pod's tunnel (and the tunnel's health check).
//     Each connection therefore takes the pod's bytes off the tunnel at
//     once (toClient): what the client's socket takes without waiting (one
//     non-blocking write, on Unix) is written by the goroutine that read
//     it — on a tunnel the engine dialed, the tunnel's own read loop:
//     frameConn takes the data frames of a connection's stream off the
//     tunnel itself (claims.go; no allocation and no hand-off between
//     goroutines per frame, where spdystream has two), drops what the pod
//     still sends on a stream kpf reset, and passes every other frame, and
//     a stream's end, to spdystream — and the rest goes
//     into a queue of its own (the frames themselves,
//     so an idle connection, or one whose client keeps up, holds none),
//     bounded at 64 KiB plus one frame, that a goroutine of its own writes
//     to the client. Past the bound the connection waits for its client
//     (the tunnel waits with it) as long as the client takes bytes; a
//     client that takes none for Options.StallTimeout (250 ms) while the
//     queue is full stopped reading: its connection is reset (TCP RST),
//     counted in Status.Stalled, its event says why, and its stream is
//     drained to the end. The other connections wait at most that long,
//     once (measured: slowest round trip beside a stalled reader 0.3-0.43 s
//     with 250 ms, 0.74-1.06 s with 500 ms). A client that keeps reading,
//     however slowly, is never reset: while its queue is full the tunnel
//     moves at its pace.
//   - Dead paths: a tunnel closes at once when its pod turns not Ready; when
//     the pod is deleted its in-flight connections may finish for up to
//     Options.DrainTimeout (2 s), then end; a terminating pod that is still
//     Ready keeps its open connections, as kube-proxy does, but gets no new
//     ones. A tunnel also closes when client-go's keep-alive pings fail, when a health check
//     through it fails, and when the wall clock jumps against the monotonic
//     clock (the machine slept); its connection is let go even when the
//     other side answers nothing any more. Failed dials back off per pod, by delays
//     that grow with the forward's failures (exponential, jittered, never
//     giving up, reset on success): a pod that is gone does not hold up
//     dials to the others.
//   - Health checks (TCP or HTTP) through a tunnel to the pod port, one
//     per pod port, check and interval, shared by the forwards that reach
//     it. A forward is healthy only while a check passed within its last
//     interval + timeout. Defaults, the spec's for every runtime
//     (runtime.DefaultHealth*): every 5 s, 2 s for one check from its dial
//     to the answer, unhealthy after 3 failures in a row — so a path that
//     goes silent is unhealthy within interval × threshold + timeout
//     (17 s). A check that got no answer closes its tunnel (its events say
//     why; the next connection dials afresh); one the pod answered (port
//     refused, HTTP error) keeps it. HealthConfig.WhileIdle (the spec has
//     a health block) checks from Start on, in use or not, and keeps the
//     tunnel the checks need open; without it checks run while the
//     forward's tunnel is open, and an idle forward reports HealthIdle
//     with the time of its last check.
//   - Status (atomic counters), health and a ring of recent events per
//     forward, for `kpf status` and `kpf logs`; Engine.Carried, the bytes
//     of every connection both ways (the agent holds its forced GC back
//     while it moves).
//   - Panics: every goroutine that serves a connection, a dial, a stream
//     creation or a forward's accept loop recovers a panic, logs it with
//     its stack and fails only that connection (or that forward: it stops
//     listening, the panic its last error); the process and the other
//     forwards go on.
//
// Locks, per type (a field not named here is set before the value is
// shared and only read after, or is atomic):
//   - Engine.mu guards closed, sources, tunnels, forwards, open and
//     clockOff, and podSource.refs (the count of forwards sharing a
//     source: acquireSource and releaseSource change it with the map).
//   - Forward.mu guards conns, lastErr, pod, lastTunnel, port, bo,
//     nextDial and health (healthState: the check loop's running flag,
//     failures, lastOK, lastCheck, lastErr). The counters (listening,
//     active, total, closing, bytes, reconnects, refused) and lostTunnel
//     are atomics, read without it (a closing tunnel sets lostTunnel of
//     its users under tunnel.mu); the event ring has its own eventLog.mu.
//   - tunnel.mu guards streams, idle, closed, reason, users, draining and
//     checks; conn and err are written once before ready is closed and
//     read after it.
//   - podSource.mu guards store, changed, listOnly, synced, err and told;
//     health reads listOnly and store under it (healthStatus) without
//     holding Forward.mu.
//   - batcher.mu guards kinds (with every batchState in it);
//     replayReader.mu its buf, off and readErr; eventLog.mu the ring.
//
// Lock order: Forward.mu → tunnel.mu → Engine.mu. A Forward may hold its
// mu while it asks for a tunnel's state or the Engine's maps
// (keepChecking: openTunnel, then isOpen); a tunnel holds its mu while it
// counts itself open in the Engine (finishDial → tunnelOpened). The
// Engine never calls into a Forward or a tunnel with Engine.mu held
// (podGone, closeTunnels and Close copy what they need and let go first);
// a tunnel tells its users it closed (tunnelClosed) after releasing
// tunnel.mu. podSource.mu, batcher.mu, replayReader.mu and eventLog.mu
// are leaves: nothing else is taken while one is held.
//
// Clock: Options.Now is the engine's one clock for what it records and
// decides by comparing times (event times, Status.Since, health ages,
// the dial backoff, the refusal log's pace); tests inject a fake one.
// Waits use real timers and deadlines (time.AfterFunc, context timeouts,
// connection deadlines, and the bound on a refused connection's replays,
// which bounds real waits); the sleep detector reads the monotonic clock
// beside the wall clock (Engine.sample, faked apart in tests); the
// durations in debug logs and the shared calls' ages are real time.
// pipe.go's waits are real too: halfClose's linger timer after a
// client's EOF and errStreamWait. pipe itself is a sequence of small
// pieces: copies (the two directions, each its own goroutine), await (the
// loop that ends the connection, with halfClose), replayReader.hold
// (keeping the client for a replay) and closed (the connection's event).
//
// Cost: an idle forward is its listener, its accept goroutine and its
// share of an informer; without WhileIdle, health checks and the clock
// watcher run only while tunnels are open. A WhileIdle forward adds a
// check goroutine and keeps an open tunnel (shared per pod) with its
// keep-alive pings.
//
// engine imports runtime (for the sentinel errors) and client-go's REST,
// informer and streaming packages. It must not import spec, state,
// reconcile, cmd, anything that reads HCL, k8s.io/kubectl or
// k8s.io/cli-runtime (binary size), nor client-go's typed clientset (its
// scheme's init costs every kpf command ~5 ms; API is the seam), and it
// makes no platform-specific calls.
package engine
