package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
)

// Options configure an Engine. Zero values take the defaults below.
type Options struct {
	// Log receives the engine's logs (named "engine", With forward).
	Log hclog.Logger
	// Now is the engine's clock: event times, Status.Since, health ages,
	// the dial backoff (doc.go says what reads real time instead). Tests
	// fake it.
	Now func() time.Time
	// IdleTimeout closes a tunnel this long after its last stream ended
	// (default 30 s).
	IdleTimeout time.Duration
	// PodWaitTimeout is how long a new local connection waits for a Ready
	// pod before it is closed (default 10 s).
	PodWaitTimeout time.Duration
	// DialTimeout bounds one tunnel dial (default 10 s).
	DialTimeout time.Duration
	// DrainTimeout is how long connections in flight to a pod that was
	// deleted may go on before its tunnel closes (default 2 s; a pod that
	// turns not Ready closes its tunnel at once).
	DrainTimeout time.Duration
	// RefusedRetry is how long a connection that pods refuse before
	// answering (the pod is Ready but its port does not accept yet, or it
	// just went away), or whose pod could not be dialed (deleted between
	// the choice and the dial), is tried on a pod again (default 3 s).
	RefusedRetry time.Duration
	// HalfCloseTimeout ends a connection whose local client sent EOF once
	// the pod has sent nothing for this long (default 5 s).
	HalfCloseTimeout time.Duration
	// StallTimeout is how long a local client may take no byte while its
	// connection holds its full buffer (64 KiB) of the pod's bytes before
	// that connection is reset (default DefaultStallTimeout, 250 ms): SPDY
	// has no per-stream flow control, so waiting longer would stall every
	// connection through the same tunnel.
	StallTimeout time.Duration
	// Transport is how tunnels reach their pods (Clients.Transport sets it
	// per context); empty: TransportAuto.
	Transport Transport
	// Dialer opens tunnels; nil: KubeDialer.
	Dialer TunnelDialer
	// MaxEvents is how many events a forward keeps (default 500).
	MaxEvents int
	// BackoffInitial and BackoffMax shape each forward's reconnect backoff
	// after a failed dial (defaults 250 ms and 30 s; it never gives up).
	BackoffInitial, BackoffMax time.Duration
	// ClockCheckInterval is how often, while any tunnel is open, wall time
	// is compared with monotonic time (default 5 s); a difference above
	// ClockJumpThreshold (default 3 s) — a laptop that slept — closes every
	// tunnel.
	ClockCheckInterval, ClockJumpThreshold time.Duration
	// TunnelClosed, if set, is called after an open tunnel closed (idle,
	// pod gone, failed check), outside the engine's locks, with the number
	// still open. The agent uses it to hand the closed tunnels' memory back
	// to the OS.
	TunnelClosed func(open int)
	// ConnClosed, if set, is called after a local connection of any
	// forward ended, outside the engine's locks; it must not block. The
	// agent uses it to hand the memory of closed connections back to the
	// OS, as for tunnels.
	ConnClosed func()
	// TunnelsChanged, if set, is called after a tunnel opened or an open
	// one closed, outside the engine's locks. The agent persists the open
	// tunnels' pods with it, so that a restarted agent dials them again
	// before its first connection asks (PreDial).
	TunnelsChanged func()
	// Listen, if set, binds a forward's listener on addr (an IP literal
	// and a port) instead of net.ListenConfig: the agent hands it the
	// listeners its supervisor kept through a restart.
	Listen func(ctx context.Context, addr string) (net.Listener, error)
}

func (o *Options) setDefaults() {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.IdleTimeout, 30*time.Second)
	def(&o.PodWaitTimeout, 10*time.Second)
	def(&o.DialTimeout, 10*time.Second)
	def(&o.RefusedRetry, 3*time.Second)
	def(&o.HalfCloseTimeout, 5*time.Second)
	def(&o.DrainTimeout, 2*time.Second)
	def(&o.StallTimeout, DefaultStallTimeout)
	def(&o.BackoffInitial, 250*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.ClockCheckInterval, 5*time.Second)
	def(&o.ClockJumpThreshold, 3*time.Second)
	if o.Dialer == nil {
		o.Dialer = KubeDialer{}
	}
	if o.Transport == "" {
		o.Transport = TransportAuto
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 500
	}
	if o.Listen == nil {
		o.Listen = func(ctx context.Context, addr string) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, "tcp", addr)
		}
	}
}

// Engine holds forwards. It is safe for concurrent use.
type Engine struct {
	opts  Options
	log   hclog.Logger
	reqID atomic.Uint64
	// carried: bytes every connection of every forward carried, both
	// ways (Carried).
	carried atomic.Int64
	// conns: local connections open now, of every forward (Conns).
	conns atomic.Int64
	// sample reads the clock for jump detection (tests replace it).
	sample func() clockSample

	mu       sync.Mutex
	closed   bool
	sources  map[sourceKey]*podSource
	tunnels  map[tunnelKey]*tunnel
	forwards map[*Forward]struct{}
	// early holds the pods of a restarted agent's predecessor's tunnels
	// (Restore), by clients and namespace, until earlyUntil: a pod source
	// that starts before then serves on those its selection matches until
	// its first list arrives.
	early      map[earlyKey][]*corev1.Pod
	earlyUntil time.Time
	open       int           // open (dialed) tunnels
	clockOff   chan struct{} // stops the clock watcher; nil when it is not running
}

// New returns an Engine with no forwards.
func New(opts Options) *Engine {
	opts.setDefaults()
	e := &Engine{
		opts:     opts,
		log:      opts.Log.Named("engine"),
		sources:  map[sourceKey]*podSource{},
		tunnels:  map[tunnelKey]*tunnel{},
		forwards: map[*Forward]struct{}{},
	}
	start := time.Now()
	e.sample = func() clockSample {
		now := time.Now()
		return clockSample{wall: now.Round(0), mono: now.Sub(start)}
	}
	return e
}

// ErrClosed is returned by Start on a closed Engine.
var ErrClosed = errors.New("engine closed")

// Start resolves cfg's target through c, binds the listener (exactly
// cfg.Address:cfg.LocalPort; a taken port wraps runtime.ErrPortInUse),
// starts or joins the shared pod source and returns once both are ready.
// No Ready pod is not an error: connections then wait for one. Errors that
// retrying cannot fix (target not found, forbidden, unknown kind) wrap
// runtime.ErrPermanent.
func (e *Engine) Start(ctx context.Context, c *Clients, cfg Config) (*Forward, error) {
	if c == nil || c.API == nil {
		return nil, runtime.Permanent(fmt.Errorf("forward %s: no clients", cfg.Name))
	}
	if err := cfg.check(); err != nil {
		return nil, runtime.Permanent(fmt.Errorf("forward %s: %w", cfg.Name, err))
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	health, err := cfg.Health.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", cfg.Name, err)
	}
	cfg.Health = health
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	t0 := time.Now()
	var res *resolved
	if cfg.Resolved != nil {
		if res, err = cfg.Resolved.resolved(); err != nil {
			e.log.Debug("the given resolution is unusable: reading the target", "forward", cfg.Name, "error", err)
		}
	}
	if res == nil {
		if res, err = resolveTarget(ctx, c, &cfg); err != nil {
			return nil, fmt.Errorf("forward %s: %w", cfg.Name, err)
		}
	}
	t1 := time.Now()
	addr := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.LocalPort))
	ln, err := e.opts.Listen(ctx, addr)
	if err != nil {
		if isAddrInUse(err) {
			return nil, fmt.Errorf("forward %s: listening on %s: %w: %w", cfg.Name, addr, runtime.ErrPortInUse, err)
		}
		return nil, fmt.Errorf("forward %s: listening on %s: %w", cfg.Name, addr, err)
	}
	src, err := e.acquireSource(ctx, c, res)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("forward %s: %w", cfg.Name, err)
	}
	e.log.Debug("forward started", "forward", cfg.Name, "resolve", t1.Sub(t0), "listen_and_pods", time.Since(t1))
	f := e.newForward(c, cfg, res, src, ln)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		f.shutdown()
		return nil, ErrClosed
	}
	e.forwards[f] = struct{}{}
	e.mu.Unlock()
	f.event(Event{Kind: EventListening, Message: ln.Addr().String() + " → " + res.describe + ":" + res.port.String()})
	go f.acceptLoop()
	if cfg.Health.WhileIdle {
		f.ensureHealthLoop()
	}
	return f, nil
}

// check reports what in c no retry can fix: an address that is not an IP
// literal ("" or a host name would bind every interface, or whatever the
// name resolves to), a port out of range, a negative cap.
func (c *Config) check() error {
	if _, err := netip.ParseAddr(c.Address); err != nil {
		return fmt.Errorf("address %q is not an IP literal such as 127.0.0.1 or ::1", c.Address)
	}
	if c.LocalPort < 0 || c.LocalPort > 65535 {
		return fmt.Errorf("local port %d out of range", c.LocalPort)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("max connections %d is negative", c.MaxConnections)
	}
	return nil
}

// acquireSource returns the running pod source for (c, res), starting it if
// no forward uses one yet, and waits until it synced (one serving on
// Restore's pods syncs in the background).
func (e *Engine) acquireSource(ctx context.Context, c *Clients, res *resolved) (*podSource, error) {
	key := sourceKey{clients: c, namespace: res.namespace, set: res.key()}
	e.mu.Lock()
	s := e.sources[key]
	if s != nil {
		s.refs++
		e.mu.Unlock()
		select {
		case <-s.started:
		case <-ctx.Done():
			e.releaseSource(s)
			return nil, ctx.Err()
		}
		if s.startErr != nil {
			e.releaseSource(s)
			return nil, s.startErr
		}
		return s, nil
	}
	s = newPodSource(key, res, e.log.With("namespace", res.namespace, "pods", res.key()), e.podGone)
	s.onStarting = e.podStarting
	s.early = e.earlyPods(key.clients, res)
	early := len(s.early)
	s.refs = 1
	e.sources[key] = s
	e.mu.Unlock()
	if early > 0 {
		e.log.Info("serving on the pods of before the restart until the pod list arrives", "namespace", res.namespace, "pods", res.key(), "early", early)
	}
	s.startErr = s.run(ctx)
	close(s.started)
	if s.startErr != nil {
		e.releaseSource(s)
		return nil, s.startErr
	}
	return s, nil
}

// releaseSource drops one reference; the last stops the informer.
func (e *Engine) releaseSource(s *podSource) {
	e.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last && e.sources[s.key] == s {
		delete(e.sources, s.key)
	}
	e.mu.Unlock()
	if last {
		s.close()
	}
}

// podGone closes the tunnels to a pod that left (deleted, not Ready,
// replaced), so in-flight connections on it end.
func (e *Engine) podGone(c *Clients, ns string, p podRef, why string) {
	key := tunnelKey{clients: c, namespace: ns, pod: p}
	e.mu.Lock()
	t := e.tunnels[key]
	fs := make([]*Forward, 0, len(e.forwards))
	for f := range e.forwards {
		fs = append(fs, f)
	}
	e.mu.Unlock()
	// A forward whose last connection went to this pod no longer reports
	// it as its pod (kpf status's POD column after a scale to 0).
	for _, f := range fs {
		f.mu.Lock()
		if f.lastTunnel == key {
			f.pod = ""
		}
		f.mu.Unlock()
	}
	if t == nil {
		return
	}
	e.log.Debug("pod gone: closing its tunnel", "namespace", ns, "pod", p.name, "reason", why)
	if why == reasonNotReady {
		t.close(why)
		return
	}
	// Deleted or replaced: its connections may still be answered (a pod
	// deleted without grace keeps serving for a moment); let them finish
	// for up to DrainTimeout, no new ones.
	t.drain(why, e.opts.DrainTimeout)
}

// podStarting pre-dials a tunnel to a pod that runs but is not Ready yet,
// when its source is in use (a Ready pod of it has an open tunnel): a
// replacement pod in a rollout then has its tunnel by the time it turns
// Ready, and the first connection to it does not wait for a dial (a TLS
// handshake and an upgrade through the API server to the node: several
// round trips to a remote cluster). Unused, the tunnel closes after
// IdleTimeout; a failed pre-dial costs no forward a backoff.
func (e *Engine) podStarting(s *podSource, pod *corev1.Pod) {
	if !s.inUse(e) {
		return
	}
	key := s.tunnelKey(pod)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.DialTimeout)
		defer cancel()
		if _, dialed, err := e.tunnel(ctx, key); dialed {
			e.log.Debug("pre-dialed a tunnel to a starting pod", "namespace", key.namespace, "pod", key.pod.name, "error", err)
		}
	}()
}

// Carried is how many bytes the engine's connections carried so far, to
// the pods and from them: it only grows, by each chunk a connection
// copies. The agent holds its memory release back while it moves.
func (e *Engine) Carried() int64 { return e.carried.Load() }

// Conns is how many local connections the engine's forwards hold open
// now. The agent's memory release reads it to tell that a burst closed.
func (e *Engine) Conns() int64 { return e.conns.Load() }

// OpenTunnels is how many tunnels are open now.
func (e *Engine) OpenTunnels() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.open
}

// openTunnel returns the open tunnel for key, or nil.
func (e *Engine) openTunnel(key tunnelKey) *tunnel {
	e.mu.Lock()
	t := e.tunnels[key]
	e.mu.Unlock()
	if t != nil && t.isOpen() {
		return t
	}
	return nil
}

// tunnel returns the tunnel for key, dialing it if none is open or being
// dialed. dialed is true for the caller whose call made the dial.
func (e *Engine) tunnel(ctx context.Context, key tunnelKey) (t *tunnel, dialed bool, err error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, false, ErrClosed
	}
	t = e.tunnels[key]
	if t == nil {
		t = &tunnel{e: e, key: key, ready: make(chan struct{}), gone: make(chan struct{}), creating: make(chan struct{}, maxCreating)}
		e.tunnels[key] = t
		dialed = true
	}
	e.mu.Unlock()
	if dialed {
		// The dial is shared with whoever asks for key meanwhile: ctx's
		// end does not cancel it, but its deadline bounds it (a health
		// check's Timeout) as DialTimeout does.
		timeout := e.opts.DialTimeout
		if d, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(d))
		}
		dctx, cancel := context.WithTimeout(context.Background(), timeout)
		t0 := time.Now()
		conn, err := e.dial(dctx, key)
		cancel()
		e.log.Debug("tunnel dialed", "namespace", key.namespace, "pod", key.pod.name, "took", time.Since(t0), "error", err)
		if err == nil && e.opts.TunnelsChanged != nil {
			defer e.opts.TunnelsChanged() // after finishDial counted it open
		}
		if err == nil && conn == nil {
			err = errors.New("dialer returned no connection")
		}
		t.finishDial(conn, err)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if t.err != nil {
		return nil, dialed, fmt.Errorf("dialing pod %s/%s: %w", key.namespace, key.pod.name, t.err)
	}
	return t, dialed, nil
}

// dial dials a tunnel for key; a panic in the dialer is its error (the
// tunnel must still be finished, or every connection to the pod would wait
// for it).
func (e *Engine) dial(ctx context.Context, key tunnelKey) (conn httpstream.Connection, err error) {
	defer func() {
		if r := recover(); r != nil {
			conn, err = nil, recovered("dialing pod "+key.pod.name, r)
		}
		if pe := (*panicError)(nil); errors.As(err, &pe) {
			logPanic(e.log, pe)
		}
	}()
	t := key.clients.Transport
	if t == "" {
		t = e.opts.Transport
	}
	refused := key.clients.spdyRefused.Load()
	conn, err = e.opts.Dialer.Dial(ctx, key.clients, key.namespace, key.pod.name, t)
	if !refused && key.clients.spdyRefused.Load() && key.clients.Config != nil {
		e.log.Info("the SPDY upgrade was refused: tunnels through this API server go over WebSocket from now on", "server", key.clients.Config.Host)
	}
	return conn, err
}

// forgetTunnel removes t from the pool (a later request dials anew);
// wasOpen: t was counted open.
func (e *Engine) forgetTunnel(t *tunnel, wasOpen bool) {
	e.mu.Lock()
	if e.tunnels[t.key] == t {
		delete(e.tunnels, t.key)
	}
	open := e.open
	if wasOpen {
		e.open--
		open = e.open
		if e.open == 0 && e.clockOff != nil {
			close(e.clockOff)
			e.clockOff = nil
		}
	}
	e.mu.Unlock()
	if wasOpen && e.opts.TunnelClosed != nil {
		e.opts.TunnelClosed(open)
	}
	if wasOpen && e.opts.TunnelsChanged != nil {
		e.opts.TunnelsChanged()
	}
}

// tunnelOpened counts an open tunnel and starts the clock watcher with the
// first.
func (e *Engine) tunnelOpened() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.open++
	if e.open == 1 && e.clockOff == nil {
		e.clockOff = make(chan struct{})
		go e.watchClock(e.clockOff)
	}
}

// clockSample is one reading of wall time and of monotonic time.
type clockSample struct {
	wall time.Time     // without monotonic reading
	mono time.Duration // monotonic time since an arbitrary start
}

// clockJumped reports whether wall time moved more than threshold apart
// from monotonic time between two samples: the machine slept (monotonic
// clocks stop during suspend on Linux, macOS and Windows) or the wall clock
// was set.
func clockJumped(prev, now clockSample, threshold time.Duration) bool {
	d := now.wall.Sub(prev.wall) - (now.mono - prev.mono)
	return d > threshold || d < -threshold
}

// watchClock runs while any tunnel is open: an idle engine wakes never.
func (e *Engine) watchClock(stop <-chan struct{}) {
	tick := time.NewTicker(e.opts.ClockCheckInterval)
	defer tick.Stop()
	prev := e.sample()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := e.sample()
		if clockJumped(prev, now, e.opts.ClockJumpThreshold) {
			e.log.Info("wall clock jumped (sleep?): closing every tunnel", "wall", now.wall.Sub(prev.wall), "monotonic", now.mono-prev.mono)
			e.closeTunnels("clock jump")
		}
		prev = now
	}
}

// closeTunnels closes every tunnel.
func (e *Engine) closeTunnels(reason string) {
	e.mu.Lock()
	var ts []*tunnel
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	e.mu.Unlock()
	for _, t := range ts {
		t.close(reason) // one being dialed gets no connection
	}
}

// Close stops every forward and tunnel. Start fails afterwards.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	fs := make([]*Forward, 0, len(e.forwards))
	for f := range e.forwards {
		fs = append(fs, f)
	}
	e.mu.Unlock()
	for _, f := range fs {
		_ = f.Stop()
	}
	e.closeTunnels("engine closed")
}

// newBackoff is a forward's reconnect backoff: exponential, jittered, never
// giving up (MaxElapsedTime 0), reset after a successful dial.
func (e *Engine) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = e.opts.BackoffInitial
	b.MaxInterval = e.opts.BackoffMax
	b.MaxElapsedTime = 0
	b.RandomizationFactor = 0.2
	b.Multiplier = 2
	b.Reset()
	return b
}
