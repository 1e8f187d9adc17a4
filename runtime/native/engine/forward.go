package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// Config is one forward, with every value resolved by the caller.
type Config struct {
	Name string
	// Target is the resource forwarded to, parsed by the caller (kind
	// service, pod, deployment or statefulset); zero when Selector is set.
	// The engine never parses a target string.
	Target kinds.Target
	// Selector picks pods by labels when Target is zero.
	Selector  map[string]string
	Namespace string // empty: "default"
	// Address and LocalPort are bound exactly as given (LocalPort 0: the
	// system picks one; Status.Addr says which).
	Address   string
	LocalPort int
	// RemotePort is a number or a port name: for a service its port (mapped
	// to the targetPort, resolved per pod), else the pod's port or the name
	// of one of its containerPorts.
	RemotePort string
	Health     HealthConfig
	// MaxConnections caps the local connections served at once (0:
	// DefaultMaxConnections). One more is accepted and closed at once,
	// never queued, and counted in Status.Refused.
	MaxConnections int
	// Resolved, when set, is what the target resolved to at an earlier
	// start of this forward: Start uses it instead of reading the target.
	Resolved *Resolution
}

// DefaultMaxConnections is a forward's cap on concurrent connections when
// its Config sets none. A thousand connections opened at once on one
// forward must all be served, so the cap is well above that; it bounds
// what one flood costs: each connection holds five goroutines, a 32 KiB
// copy buffer (to the pod), up to 64 KiB kept for a replay and up to
// 64 KiB (and a frame) of the pod's bytes its client has not taken yet, so
// about 4096 × 200 KiB ≈ 0.8 GiB at worst (clients that each sent 64 KiB
// before the pod answered, or stopped reading), and 4096 of the process's
// file descriptors. Measured, an open
// connection that waits costs the agent about 40 KiB of RSS (kpf-scale
// --flood 1000: 24 MB before, 64 MB with the thousand open).
const DefaultMaxConnections = 4096

// Status is a forward's state at one moment.
type Status struct {
	Listening bool   `json:"listening"`
	Addr      string `json:"addr"`          // the bound local address
	Pod       string `json:"pod,omitempty"` // the pod the last connection went to
	// Active counts the local connections open now whose client has not
	// closed its side: one the client closed is not counted while kpf
	// waits (HalfCloseTimeout) for the pod's last bytes.
	Active   int64 `json:"active"`
	Total    int64 `json:"total"`     // local connections served (not those refused)
	BytesIn  int64 `json:"bytes_in"`  // from pods to local clients
	BytesOut int64 `json:"bytes_out"` // from local clients to pods
	// Reconnects counts tunnels dialed after a tunnel of this forward was
	// lost for another reason than being idle (pod gone, failed check,
	// broken connection, clock jump).
	Reconnects int64 `json:"reconnects"`
	// Refused counts local connections closed at once because
	// MaxConnections were open.
	Refused int64 `json:"refused,omitempty"`
	// Stalled counts local connections reset because their client stopped
	// reading (Options.StallTimeout) while the pod sent.
	Stalled     int64     `json:"stalled,omitempty"`
	Health      string    `json:"health"` // HealthHealthy, HealthUnhealthy, HealthUnknown, HealthIdle or HealthNone
	HealthError string    `json:"health_error,omitempty"`
	LastCheck   time.Time `json:"last_check,omitzero"` // when the last health check ended
	LastError   string    `json:"last_error,omitempty"`
	Since       time.Time `json:"since"` // when the forward started
	// Restarts is set by the agent, never by the engine: how many times
	// an agent restarted by its supervisor served the forward again.
	Restarts int `json:"restarts,omitempty"`
}

// Forward is one listener and the connections it serves.
type Forward struct {
	e     *Engine
	c     *Clients
	cfg   Config
	res   *resolved
	src   *podSource
	ln    net.Listener
	log   hclog.Logger
	since time.Time

	ctx        context.Context // ends at Stop
	cancel     context.CancelFunc
	stopOnce   sync.Once
	acceptDone chan struct{}
	healthWake chan struct{} // a tunnel closed (buffered 1)
	events     eventLog

	listening                     atomic.Bool
	active, total                 atomic.Int64
	closing                       atomic.Int64 // of active: the client sent EOF, the pod may still answer
	bytesIn, bytesOut, reconnects atomic.Int64
	refused, stalled              atomic.Int64

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	lastErr    string
	pod        string    // pod of the last connection
	lastTunnel tunnelKey // tunnel of the last connection (health checks use it)
	port       int32     // remote port on that pod
	bo         *backoff.ExponentialBackOff
	// nextDial: no dial to that pod before (backoff after its failed
	// dial); the delays grow with the forward's failures (bo).
	nextDial map[types.UID]time.Time
	// lostTunnel: the next dial is a reconnect. Atomic, not under mu: a
	// closing tunnel sets it under its own lock, before it lets the
	// connections on it end (tunnel.close), so that a new connection
	// dialed at once is counted as the reconnect it is.
	lostTunnel atomic.Bool
	health     healthState
}

func (e *Engine) newForward(c *Clients, cfg Config, res *resolved, src *podSource, ln net.Listener) *Forward {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forward{
		e: e, c: c, cfg: cfg, res: res, src: src, ln: ln,
		log:        e.log.With("forward", cfg.Name),
		since:      e.opts.Now(),
		ctx:        ctx,
		cancel:     cancel,
		acceptDone: make(chan struct{}),
		healthWake: make(chan struct{}, 1),
		events:     eventLog{max: e.opts.MaxEvents},
	}
	f.listening.Store(true)
	return f
}

// Name is the forward's name.
func (f *Forward) Name() string { return f.cfg.Name }

// Addr is the bound local address.
func (f *Forward) Addr() net.Addr { return f.ln.Addr() }

// Events returns the retained events with Seq > since, oldest first, and a
// channel that is closed when the next event arrives (for following).
func (f *Forward) Events(since int) ([]Event, <-chan struct{}) { return f.events.since(since) }

func (f *Forward) event(ev Event) {
	ev.Time = f.e.opts.Now()
	f.events.add(ev)
}

func (f *Forward) setLastError(err error) {
	f.mu.Lock()
	f.lastErr = err.Error()
	f.mu.Unlock()
}

// Stop closes the listener and every local connection of the forward and
// releases its pod source. Tunnels shared with other forwards stay; the
// forward's own close after IdleTimeout. Safe to call twice.
func (f *Forward) Stop() error {
	f.stopOnce.Do(func() {
		f.shutdown()
		<-f.acceptDone
		f.e.mu.Lock()
		delete(f.e.forwards, f)
		f.e.mu.Unlock()
		f.event(Event{Kind: EventStopped})
	})
	return nil
}

// shutdown closes everything without waiting for the accept loop (which
// may not run).
func (f *Forward) shutdown() {
	f.cancel()
	f.listening.Store(false)
	f.ln.Close()
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	f.e.releaseSource(f.src)
}

// Resolution is what f's target resolved to when it started.
func (f *Forward) Resolution() Resolution { return f.res.resolution() }

// Status reports the forward's state; it makes no network call.
func (f *Forward) Status() Status {
	f.mu.Lock()
	s := Status{
		Listening: f.listening.Load(),
		Addr:      f.ln.Addr().String(),
		Pod:       f.pod,
		LastError: f.lastErr,
		Since:     f.since,
	}
	f.mu.Unlock()
	s.Active, s.Total = max(f.active.Load()-f.closing.Load(), 0), f.total.Load()
	s.BytesIn, s.BytesOut, s.Reconnects = f.bytesIn.Load(), f.bytesOut.Load(), f.reconnects.Load()
	s.Refused, s.Stalled = f.refused.Load(), f.stalled.Load()
	s.Health, s.HealthError, s.LastCheck = f.healthStatus()
	return s
}

// acceptLoop accepts until the listener closes. A failed Accept (out of
// file descriptors, say) is tried again after a pause that doubles from
// 5 ms to 1 s: it never spins and never ends while the listener is open. A
// connection beyond MaxConnections is refused at once.
func (f *Forward) acceptLoop() {
	defer close(f.acceptDone)
	defer f.catchAccept()
	var delay time.Duration
	var warned time.Time // the last refusal logged
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			f.log.Warn("accept failed", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-f.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if f.active.Load() >= int64(f.cfg.MaxConnections) {
			// Only this loop adds to active: the cap holds.
			f.refuse(conn, &warned)
			continue
		}
		if !f.track(conn) {
			conn.Close()
			return
		}
		f.total.Add(1)
		f.active.Add(1)
		f.e.conns.Add(1)
		go f.serve(conn)
	}
}

// track adds conn to the connections Stop closes; false once stopping.
func (f *Forward) track(conn net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil && f.ctx.Err() != nil {
		return false
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[conn] = struct{}{}
	return true
}

// refuseLogEvery spaces the logs and events of refused connections: a
// flood must not flush the event ring.
const refuseLogEvery = 5 * time.Second

// refuse closes a connection beyond MaxConnections at once, with a reset
// (the client sees it refused, and no TIME_WAIT stays here), and counts it
// first, so a client that saw the reset finds it in Status.
func (f *Forward) refuse(conn net.Conn, warned *time.Time) {
	n := f.refused.Add(1)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
	if now := f.e.opts.Now(); now.Sub(*warned) >= refuseLogEvery {
		*warned = now
		msg := fmt.Sprintf("%d connections open, the forward's max_connections: refusing new ones (%d refused so far)", f.cfg.MaxConnections, n)
		f.log.Warn("refusing connections", "max_connections", f.cfg.MaxConnections, "refused", n)
		f.event(Event{Kind: EventConnRefused, Message: msg})
	}
}

// serve forwards one local connection to a pod Ready now.
func (f *Forward) serve(conn net.Conn) {
	defer func() {
		conn.Close()
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		f.active.Add(-1)
		f.e.conns.Add(-1)
		if fn := f.e.opts.ConnClosed; fn != nil {
			fn()
		}
	}()
	defer f.catch("serving a connection")
	rec := &replayReader{conn: conn}
	av := &avoidance{until: time.Now().Add(f.e.opts.RefusedRetry)} // real time: it bounds real waits
	delay := 20 * time.Millisecond
	streamRetried := false
	var err error
	for {
		var o outcome
		o, err = f.serveOnce(conn, rec, av)
		retryable := o.pod != nil && f.ctx.Err() == nil && time.Now().Before(av.until)
		switch {
		case o.refused && retryable:
			// The pod refused before answering: nothing reached it, so
			// what the client sent is replayed to another Ready pod (or,
			// after a pause, the same one) for a while.
			av.refused = addUID(av.refused, o.pod.UID)
			f.event(Event{Kind: EventConnRetry, Pod: o.pod.Name, Message: err.Error()})
			f.log.Debug("pod refused the connection: trying again", "pod", o.pod.Name, "error", err)
			select {
			case <-time.After(delay):
			case <-f.ctx.Done():
			}
			delay = min(2*delay, 500*time.Millisecond)
			continue
		case o.undialed && retryable && !refusesForGood(err):
			// No tunnel to the pod could be dialed (typically: it was
			// deleted between the choice and the dial): nothing went
			// anywhere, so the connection goes to another Ready pod, or
			// waits for one until the retries end.
			av.undialable = addUID(av.undialable, o.pod.UID)
			av.lastErr = err
			f.event(Event{Kind: EventConnRetry, Pod: o.pod.Name, Message: err.Error()})
			f.log.Debug("dialing the pod failed: trying another", "pod", o.pod.Name, "error", err)
			continue
		case o.retry && !streamRetried:
			streamRetried = true
			f.log.Debug("stream creation failed: retrying on a fresh tunnel", "error", err)
			continue
		}
		break
	}
	if err != nil && f.ctx.Err() == nil {
		f.setLastError(err)
		f.event(Event{Kind: EventConnFailed, Message: err.Error()})
		f.log.Debug("connection failed", "error", err)
	}
}

// outcome is how one attempt to serve a connection ended.
type outcome struct {
	// retry: stream creation failed (the tunnel was then closed, so
	// another attempt dials afresh).
	retry bool
	// refused: pod refused the connection before sending a byte (its
	// error stream said why); the client's bytes can be replayed.
	refused bool
	// undialed: no tunnel to pod could be dialed; nothing reached it.
	undialed bool
	pod      *corev1.Pod
}

// avoidance is what one local connection learned on its earlier attempts.
type avoidance struct {
	refused    map[types.UID]bool // refused it: other pods first, these after a pause
	undialable map[types.UID]bool // could not be dialed: not again for this connection
	until      time.Time          // no retry after this
	lastErr    error              // why the last pod could not be dialed
}

func addUID(m map[types.UID]bool, uid types.UID) map[types.UID]bool {
	if m == nil {
		m = map[types.UID]bool{}
	}
	m[uid] = true
	return m
}

// refusesForGood reports whether a failed dial will fail the same way on
// any pod: the user may not port-forward there at all.
func refusesForGood(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// serveOnce makes one attempt.
func (f *Forward) serveOnce(conn net.Conn, rec *replayReader, av *avoidance) (outcome, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.e.opts.PodWaitTimeout+f.e.opts.DialTimeout)
	defer cancel()
	pod, err := f.pickPod(ctx, av)
	if err != nil {
		return outcome{}, err
	}
	port, err := f.res.port.resolve(pod)
	if err != nil {
		return outcome{}, runtime.Permanent(err)
	}
	t, err := f.getTunnel(ctx, pod)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, err
		}
		return outcome{undialed: true, pod: pod}, err
	}
	if err := t.use(f); err != nil {
		return outcome{retry: true}, err
	}
	errStream, data, err := t.openPairQueued(ctx, port, f.e.opts.DialTimeout)
	if err != nil {
		t.release()
		if ctx.Err() != nil {
			return outcome{}, err
		}
		// The tunnel is broken, or closed while we waited (its pod went
		// away): no byte went anywhere, so another attempt may pick again.
		t.close("stream creation failed: " + err.Error())
		return outcome{retry: true}, err
	}
	f.noteConn(pod, t.key, port)
	if refused := f.pipe(conn, rec, t, pod.Name, errStream, data); refused != nil {
		return outcome{refused: true, pod: pod}, refused
	}
	return outcome{}, nil
}

// replayReader reads the local client and keeps what it sent until the
// pod's first byte (at most maxReplay), so that a connection a pod refused
// can be replayed to another pod.
type replayReader struct {
	conn    net.Conn
	mu      sync.Mutex
	buf     []byte
	off     bool // the pod answered, or the client sent too much to keep
	readErr bool // reading the client failed (not EOF, not our deadline)
}

// failed reports whether reading the client failed: it is gone.
func (r *replayReader) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readErr
}

// maxReplay bounds what a connection keeps for a replay.
const maxReplay = 64 << 10

func (r *replayReader) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
		r.mu.Lock()
		r.readErr = true
		r.mu.Unlock()
	}
	if n > 0 {
		r.mu.Lock()
		switch {
		case r.off:
		case len(r.buf)+n > maxReplay:
			r.off, r.buf = true, nil
		default:
			r.buf = append(r.buf, p[:n]...)
		}
		r.mu.Unlock()
	}
	return n, err
}

// answered stops keeping: the pod has sent a byte, no replay any more.
func (r *replayReader) answered() {
	r.mu.Lock()
	r.off, r.buf = true, nil
	r.mu.Unlock()
}

// kept returns what the client sent so far, and false once no replay is
// possible.
func (r *replayReader) kept() ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf, !r.off
}

// hold decides, once the pod's side ended, whether the connection can be
// replayed: the pod sent nothing (silent), the forward runs, the client
// is still there and all it sent is kept. Then it stops reading the
// client without closing it (what the read in progress returns is kept
// for the replay; localDone: that read ended) and reports whether all is
// still kept; else it closes the client's connection. A connection the
// pod ended (or whose writes to the pod failed) before it sent a byte may
// have been refused: the caller keeps the client until the error stream
// says.
func (r *replayReader) hold(conn net.Conn, silent bool, localDone <-chan struct{}) bool {
	_, replayable := r.kept()
	if !replayable || !silent || r.failed() {
		conn.Close()
		return false
	}
	_ = conn.SetReadDeadline(time.Now())
	<-localDone
	_ = conn.SetReadDeadline(time.Time{})
	_, replayable = r.kept()
	return replayable
}

// noteConn records where a connection went and starts health checks.
func (f *Forward) noteConn(pod *corev1.Pod, key tunnelKey, port int32) {
	f.mu.Lock()
	prev := f.pod
	f.pod, f.lastTunnel, f.port = pod.Name, key, port
	f.mu.Unlock()
	if prev != pod.Name {
		// The event names the new pod (Pod); the message only where from.
		msg := ""
		if prev != "" {
			msg = "from " + prev
		}
		f.event(Event{Kind: EventPodSwitch, Pod: pod.Name, Message: msg})
	}
	f.ensureHealthLoop()
}

// pickPod returns a pod that is Ready now and that av does not rule out,
// preferring one whose tunnel is open, else the first by name. With none
// it waits for the pod source to change, up to PodWaitTimeout (or, once a
// pod could not be dialed, until the connection's retries end).
func (f *Forward) pickPod(ctx context.Context, av *avoidance) (*corev1.Pod, error) {
	var timeout <-chan time.Time
	for {
		pods, changed, err := f.src.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		if len(av.undialable) > 0 {
			pods = slices.DeleteFunc(pods, func(p *corev1.Pod) bool { return av.undialable[p.UID] })
		}
		if len(pods) > 0 {
			return f.choose(pods, av.refused), nil
		}
		if timeout == nil {
			wait := f.e.opts.PodWaitTimeout
			if av.lastErr != nil {
				wait = min(wait, time.Until(av.until))
			}
			tm := time.NewTimer(wait)
			defer tm.Stop()
			timeout = tm.C
		}
		var poll <-chan time.Time
		if changed == nil { // list-only: nothing wakes us
			poll = time.After(listPollInterval)
		}
		select {
		case <-changed:
		case <-poll:
		case <-timeout:
			if av.lastErr != nil {
				return nil, av.lastErr
			}
			return nil, fmt.Errorf("%s: none Ready within %s: %w", f.res.describe, f.e.opts.PodWaitTimeout, runtime.ErrNoPod)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// choose picks among Ready pods (sorted by name) that are not in avoid
// (unless all are): the first with an open tunnel, else the first.
func (f *Forward) choose(pods []*corev1.Pod, avoid map[types.UID]bool) *corev1.Pod {
	if len(avoid) > 0 {
		var rest []*corev1.Pod
		for _, p := range pods {
			if !avoid[p.UID] {
				rest = append(rest, p)
			}
		}
		if len(rest) > 0 {
			pods = rest
		}
	}
	for _, p := range pods {
		if f.e.openTunnel(f.tunnelKey(p)) != nil {
			return p
		}
	}
	return pods[0]
}

func (f *Forward) tunnelKey(p *corev1.Pod) tunnelKey { return f.src.tunnelKey(p) }

// getTunnel returns the open tunnel to pod or dials one, after this
// forward's backoff delay if its last dial failed.
func (f *Forward) getTunnel(ctx context.Context, pod *corev1.Pod) (*tunnel, error) {
	key := f.tunnelKey(pod)
	if t := f.e.openTunnel(key); t != nil {
		return t, nil
	}
	f.mu.Lock()
	wait := f.nextDial[pod.UID].Sub(f.e.opts.Now())
	f.mu.Unlock()
	if wait > 0 {
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return nil, fmt.Errorf("waiting %s to dial again: %w", wait.Round(time.Millisecond), ctx.Err())
		}
	}
	t, dialed, err := f.e.tunnel(ctx, key)
	if err != nil {
		if dialed {
			d := f.dialFailed(pod.UID)
			f.event(Event{Kind: EventError, Pod: pod.Name, Message: fmt.Sprintf("%v (next dial in %s)", err, d.Round(time.Millisecond))})
		}
		return nil, err
	}
	if dialed {
		f.dialSucceeded()
		f.event(Event{Kind: EventTunnelOpen, Pod: pod.Name, Message: t.opened("")})
	}
	return t, nil
}

// dialFailed advances the backoff and returns the delay before the next
// dial to the pod uid. Other pods may be dialed meanwhile: the failure may
// be that pod's alone (it was just deleted).
func (f *Forward) dialFailed(uid types.UID) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bo == nil {
		f.bo = f.e.newBackoff()
	}
	d := f.bo.NextBackOff() // never Stop: MaxElapsedTime is 0
	now := f.e.opts.Now()
	for k, t := range f.nextDial { // pods whose delay has passed (or that are gone)
		if !t.After(now) {
			delete(f.nextDial, k)
		}
	}
	if f.nextDial == nil {
		f.nextDial = map[types.UID]time.Time{}
	}
	f.nextDial[uid] = now.Add(d)
	return d
}

// dialSucceeded resets the backoff and counts a reconnect.
func (f *Forward) dialSucceeded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bo != nil {
		f.bo.Reset()
	}
	f.nextDial = nil
	if f.lostTunnel.CompareAndSwap(true, false) {
		f.reconnects.Add(1)
	}
}

// tunnelClosed is told by a tunnel this forward used that it closed.
func (f *Forward) tunnelClosed(t *tunnel, reason string) {
	select { // let an idle health loop end now rather than at its next tick
	case f.healthWake <- struct{}{}:
	default:
	}
	f.event(Event{Kind: EventTunnelClose, Pod: t.key.pod.name, Message: reason})
}
