package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// Health kinds and states (the states are runtime's verdicts).
const (
	HealthTCP  = "tcp"
	HealthHTTP = "http"
	HealthNone = "none"

	HealthHealthy   = runtime.HealthHealthy
	HealthUnhealthy = runtime.HealthUnhealthy
	HealthUnknown   = runtime.HealthUnknown
	HealthIdle      = runtime.HealthIdle
)

// HealthConfig says how a forward checks its path to the pod: a check
// opens a stream through a tunnel to the pod port (dialing one when none is
// open) and, for HTTP, asks for a path. A forward is healthy only while a
// check passed within its last Interval + Timeout.
type HealthConfig struct {
	Kind     string // HealthTCP (default), HealthHTTP or HealthNone
	HTTPPath string // HealthHTTP: the path to GET; 2xx and 3xx are healthy
	// Interval between checks, Timeout of one — its dial, its streams and
	// the answer together (defaults runtime.DefaultHealthInterval, 5 s,
	// and runtime.DefaultHealthTimeout, 2 s).
	Interval, Timeout time.Duration
	// FailureThreshold consecutive failures make the forward unhealthy
	// (default runtime.DefaultHealthThreshold, 3). A check that got no
	// answer (no stream, nothing within Timeout) closes the tunnel it went
	// through; one the pod answered (refused, an HTTP error) keeps it.
	FailureThreshold int
	// WhileIdle checks from Start on, every Interval, in use or not, and
	// keeps the tunnel the checks need open. Without it checks run only
	// after a connection, while a tunnel of the forward is open (or until a
	// failing check passes or fails for good), and an idle forward reports
	// HealthIdle.
	WhileIdle bool
}

func (h HealthConfig) withDefaults() (HealthConfig, error) {
	switch h.Kind {
	case "":
		h.Kind = HealthTCP
	case HealthTCP, HealthNone:
	case HealthHTTP:
		if h.HTTPPath == "" {
			h.HTTPPath = "/"
		}
		if !strings.HasPrefix(h.HTTPPath, "/") {
			return h, runtime.Permanent(fmt.Errorf("health path %q must start with /", h.HTTPPath))
		}
	default:
		return h, runtime.Permanent(fmt.Errorf("unknown health check kind %q", h.Kind))
	}
	if h.Interval <= 0 {
		h.Interval = runtime.DefaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = runtime.DefaultHealthTimeout
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = runtime.DefaultHealthThreshold
	}
	return h, nil
}

// healthState is guarded by Forward.mu. Times are Options.Now's.
type healthState struct {
	running   bool // a check loop runs
	failures  int  // consecutive failed checks
	lastErr   string
	lastCheck time.Time // when the last check ended; zero: none yet
	lastOK    time.Time // when the last passing check was made
	reported  string    // last state logged as an event
}

// ensureHealthLoop starts the check loop if checks are on and none runs.
func (f *Forward) ensureHealthLoop() {
	if f.cfg.Health.Kind == HealthNone {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.health.running {
		return
	}
	f.health.running = true
	go f.healthLoop()
}

// healthLoop checks at once, then every Health.Interval, while
// keepChecking says so.
func (f *Forward) healthLoop() {
	tick := time.NewTicker(f.cfg.Health.Interval)
	defer tick.Stop()
	for {
		if !f.keepChecking() {
			return
		}
		f.checkSafely()
		select {
		case <-f.ctx.Done():
		case <-tick.C:
		case <-f.healthWake:
			// A tunnel closed: end now if idle, else check at the tick.
			if !f.keepChecking() {
				return // marked ended: a new connection starts another loop
			}
			select {
			case <-f.ctx.Done():
			case <-tick.C:
			}
		}
	}
}

// keepChecking reports whether the loop goes on: until Stop with
// WhileIdle; else while the forward's tunnel is open, or a failing check
// has neither passed again nor reached FailureThreshold. When it says no,
// the loop is marked ended under the same lock, so a connection that
// comes next starts a new one.
func (f *Forward) keepChecking() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &f.health
	goOn := f.ctx.Err() == nil && (f.cfg.Health.WhileIdle ||
		f.e.openTunnel(f.lastTunnel) != nil ||
		(h.failures > 0 && h.failures < f.cfg.Health.FailureThreshold))
	if !goOn {
		h.running = false
	}
	return goOn
}

// checkSafely is checkOnce with a panic (in kpf, client-go or the streams'
// libraries) recovered: logged with its stack and recorded as a failed
// check, and the loop goes on.
func (f *Forward) checkSafely() {
	defer func() {
		if r := recover(); r != nil {
			f.checked(panicked(f.log, "checking health", r), 0)
		}
	}()
	f.checkOnce()
}

// checkOnce makes one check, bounded by Health.Timeout from the dial to
// the answer, and records its verdict.
func (f *Forward) checkOnce() {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Health.Timeout)
	defer cancel()
	t, port, err := f.healthTunnel(ctx)
	if err != nil {
		if f.ctx.Err() == nil {
			f.checked(f.timedOut(err), 0)
		}
		return
	}
	if f.cfg.Health.WhileIdle {
		// The check holds the tunnel like a connection, so that checks
		// every Interval keep it open (it closes IdleTimeout after the
		// last).
		if t.use(f) != nil {
			return // its pod is going away: the next check picks again
		}
		defer t.release()
	} else {
		t.addUser(f) // it hears when the tunnel closes; it is not kept open
	}
	ck := checkKey{port: port, kind: f.cfg.Health.Kind, path: f.cfg.Health.HTTPPath}
	age, err := t.sharedCheck(ctx, ck, sharedCheckAge(f.cfg.Health.Interval), func() error { return f.check(ctx, t, port) })
	if f.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return // stopped: this forward, or the one whose check was shared
	}
	if err != nil && t.closedIdle() {
		return // it closed idle under the check: no verdict
	}
	err = f.timedOut(err)
	if err != nil && !errors.As(err, new(answered)) {
		// No answer through the tunnel: the path is dead (a node or
		// API server gone silent); the next connection dials afresh.
		t.close("health check failed: " + err.Error())
	}
	f.checked(err, age)
}

// sharedCheckAge is how recently another forward's check through the same
// tunnel to the same pod port must have begun for this forward to take its
// verdict instead of checking: three quarters of an interval, so that the
// forward's own next tick (an interval after its last check began) always
// checks anew — a silent path is then found within interval × threshold +
// timeout — while forwards that share a pod port still share most checks.
func sharedCheckAge(interval time.Duration) time.Duration { return interval * 3 / 4 }

// timedOut says a check's deadline in words.
func (f *Forward) timedOut(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", f.cfg.Health.Timeout, err)
	}
	return err
}

// healthTunnel returns the open tunnel of the forward's last connection or
// check, else dials a Ready pod within ctx (checks come every Interval:
// they skip the connections' backoff).
func (f *Forward) healthTunnel(ctx context.Context) (*tunnel, int32, error) {
	f.mu.Lock()
	key, port := f.lastTunnel, f.port
	f.mu.Unlock()
	if t := f.e.openTunnel(key); t != nil {
		return t, port, nil
	}
	pods, _, err := f.src.snapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(pods) == 0 {
		return nil, 0, fmt.Errorf("%s: %w", f.res.describe, runtime.ErrNoPod)
	}
	pod := f.choose(pods, nil)
	if port, err = f.res.port.resolve(pod); err != nil {
		return nil, 0, err
	}
	t, dialed, err := f.e.tunnel(ctx, f.tunnelKey(pod))
	if err != nil {
		return nil, 0, err
	}
	if dialed {
		f.dialSucceeded()
		f.event(Event{Kind: EventTunnelOpen, Pod: pod.Name, Message: t.opened("for a health check")})
	}
	f.mu.Lock()
	f.lastTunnel, f.port = t.key, port
	f.mu.Unlock()
	return t, port, nil
}

// checked records a check's result — made age ago, when it was shared —
// and logs a change of state.
func (f *Forward) checked(err error, age time.Duration) {
	now := f.e.opts.Now()
	f.mu.Lock()
	f.health.lastCheck = now
	if err == nil {
		f.health.failures, f.health.lastErr = 0, ""
		f.health.lastOK = now.Add(-age)
	} else {
		f.health.failures++
		f.health.lastErr = err.Error()
	}
	state := HealthHealthy
	if f.health.failures >= f.cfg.Health.FailureThreshold {
		state = HealthUnhealthy
	}
	changed := state != f.health.reported
	f.health.reported = state
	f.mu.Unlock()
	if err != nil {
		f.log.Debug("health check failed", "error", err)
	}
	if changed {
		ev := Event{Kind: EventHealth, Message: state}
		if err != nil {
			ev.Message += ": " + err.Error()
		}
		f.event(ev)
	}
}

// healthStatus is the forward's health now, without a network call: its
// state, what failed, and when the last check ended.
func (f *Forward) healthStatus() (string, string, time.Time) {
	if f.cfg.Health.Kind == HealthNone {
		return HealthNone, "", time.Time{}
	}
	f.mu.Lock()
	h := f.health
	f.mu.Unlock()
	switch {
	case !f.listening.Load():
		return HealthUnhealthy, "not listening", h.lastCheck
	case h.failures >= f.cfg.Health.FailureThreshold:
		return HealthUnhealthy, h.lastErr, h.lastCheck
	case h.failures > 0:
		return HealthUnknown, h.lastErr, h.lastCheck // failing, not yet unhealthy
	case !h.lastOK.IsZero() && f.e.opts.Now().Sub(h.lastOK) <= f.cfg.Health.Interval+f.cfg.Health.Timeout:
		return HealthHealthy, "", h.lastCheck
	case h.running && h.lastCheck.IsZero():
		return HealthUnknown, "", h.lastCheck // the first check is under way
	case h.running:
		return HealthUnknown, fmt.Sprintf("no check passed in %s", f.e.opts.Now().Sub(h.lastOK).Round(time.Second)), h.lastCheck
	}
	// Unchecked while idle: say what is known without a network call.
	f.src.mu.Lock()
	listOnly, store := f.src.listOnly, f.src.store
	f.src.mu.Unlock()
	if !listOnly && store != nil {
		if pods, _, _ := f.src.snapshot(f.ctx); len(pods) == 0 {
			return HealthUnhealthy, "no Ready pod", h.lastCheck
		}
	}
	return HealthIdle, "", h.lastCheck
}

// tcpGrace is how long a TCP check waits for the error stream to report a
// failed connection to the pod's port; silence means it connected.
const tcpGrace = 500 * time.Millisecond

// answered is a failed check that the pod's side answered (its port
// refused, its HTTP status was an error): the tunnel works, so it stays.
type answered struct{ error }

func (a answered) Unwrap() error { return a.error }

// check runs one health check through t, within ctx.
func (f *Forward) check(ctx context.Context, t *tunnel, port int32) error {
	errStream, data, err := t.openPairWait(ctx, port, f.cfg.Health.Timeout)
	if err != nil {
		return err
	}
	defer func() {
		// Tear both streams down before forgetting them: a stream left
		// half-open keeps spdystream's Close waiting for ever.
		_ = data.Reset()
		_ = errStream.Reset()
		t.conn.RemoveStreams(errStream, data)
	}()
	errMsg := make(chan error, 1)
	go func() {
		defer f.recoverInto(errMsg, "reading a health check's error stream")
		msg, err := io.ReadAll(errStream)
		switch {
		case len(msg) > 0:
			errMsg <- answered{errors.New(strings.TrimSpace(string(msg)))}
		case err != nil:
			errMsg <- fmt.Errorf("reading the error stream: %w", err)
		default:
			errMsg <- nil
		}
	}()
	noAnswer := func() error {
		if f.ctx.Err() != nil {
			return f.ctx.Err()
		}
		return fmt.Errorf("no answer within %s", f.cfg.Health.Timeout)
	}
	if f.cfg.Health.Kind != HealthHTTP {
		grace := tcpGrace
		if d, ok := ctx.Deadline(); ok {
			grace = min(grace, time.Until(d))
		}
		// Read what a server that speaks first sends, and drop it:
		// spdystream hands a stream's data to one of five frame workers
		// per connection and blocks it until the stream is read, which
		// would stall every stream of the tunnel on that worker until
		// the check ends (the deferred Reset ends the read).
		go func() {
			defer f.recoverInto(nil, "draining a health check's stream")
			_, _ = io.Copy(io.Discard, data)
		}()
		return tcpCheck(f.ctx.Done(), errMsg, grace)
	}
	result := make(chan error, 1)
	go func() {
		defer f.recoverInto(result, "reading a health check's answer")
		result <- httpCheck(data, f.cfg.Health.HTTPPath)
	}()
	select {
	case err := <-result:
		if err != nil && !errors.As(err, new(answered)) {
			select { // the data stream ended: the error stream may say why
			case e := <-errMsg:
				if e != nil {
					return e
				}
			case <-ctx.Done():
			}
		}
		return err
	case err := <-errMsg:
		if err != nil {
			return err
		}
		select { // the error stream ended cleanly: the answer decides
		case err := <-result:
			return err
		case <-ctx.Done():
			return noAnswer()
		}
	case <-ctx.Done():
		return noAnswer()
	}
}

// tcpCheck passes when the error stream stays silent for grace (the
// kubelet connected to the port) and fails when it speaks or stop closes.
func tcpCheck(stop <-chan struct{}, errMsg <-chan error, grace time.Duration) error {
	tm := time.NewTimer(grace)
	defer tm.Stop()
	select {
	case err := <-errMsg:
		return err
	case <-tm.C:
		return nil
	case <-stop:
		return context.Canceled
	}
}

// httpCheck GETs path over rw and wants 2xx or 3xx.
func httpCheck(rw io.ReadWriter, path string) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: kpf-health\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(rw, req); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(rw), nil)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return answered{fmt.Errorf("GET %s: %s", path, resp.Status)}
	}
	return nil
}
