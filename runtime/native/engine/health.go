package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// Health kinds and states.
const (
	HealthTCP  = "tcp"
	HealthHTTP = "http"
	HealthNone = "none"

	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// HealthConfig says how a forward checks its path to the pod. Checks run
// through an open tunnel only, so an idle forward costs nothing: without a
// tunnel a forward is healthy when its listener is bound and a pod is Ready.
type HealthConfig struct {
	Kind     string // HealthTCP (default), HealthHTTP or HealthNone
	HTTPPath string // HealthHTTP: the path to GET; 2xx and 3xx are healthy
	// Interval between checks (default 10 s), Timeout of one (default 2 s).
	Interval, Timeout time.Duration
	// FailureThreshold consecutive failures make the forward unhealthy
	// (default 3). Every failure closes the tunnel it went through.
	FailureThreshold int
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
			return h, fmt.Errorf("health path %q must start with /: %w", h.HTTPPath, runtime.ErrPermanent)
		}
	default:
		return h, fmt.Errorf("unknown health check kind %q: %w", h.Kind, runtime.ErrPermanent)
	}
	if h.Interval <= 0 {
		h.Interval = 10 * time.Second
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Second
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = 3
	}
	return h, nil
}

// healthState is guarded by Forward.mu.
type healthState struct {
	running  bool // a check loop runs
	failures int  // consecutive failed checks
	lastErr  string
	reported string // last state logged as an event
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

// healthLoop checks at Health.Interval while the forward's tunnel is open.
// After a failure it dials a fresh tunnel for the next check until the
// forward is healthy again or FailureThreshold is reached; then (or when
// the tunnel closed idle) it ends, and the next connection restarts it.
func (f *Forward) healthLoop() {
	tick := time.NewTicker(f.cfg.Health.Interval)
	defer tick.Stop()
	for {
		woken := false
		select {
		case <-f.ctx.Done():
			f.mu.Lock()
			f.health.running = false
			f.mu.Unlock()
			return
		case <-tick.C:
		case <-f.healthWake:
			woken = true
		}
		f.mu.Lock()
		key, port, failures := f.lastTunnel, f.port, f.health.failures
		t := f.e.openTunnel(key)
		if t == nil && (failures == 0 || failures >= f.cfg.Health.FailureThreshold) {
			f.health.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if woken {
			continue // only a tunnel closed: check at the next tick
		}
		if t == nil {
			var err error
			if t, port, err = f.freshTunnel(); err != nil {
				f.checked(err)
				continue
			}
		}
		t.addUser(f)
		ck := checkKey{port: port, kind: f.cfg.Health.Kind, path: f.cfg.Health.HTTPPath}
		err := t.sharedCheck(f.ctx, ck, f.cfg.Health.Interval, func() error { return f.check(t, port) })
		if err != nil && !t.isOpen() {
			t.mu.Lock()
			idle := t.reason == reasonIdle
			t.mu.Unlock()
			if idle {
				continue // it closed idle under the check: no verdict
			}
		}
		if err != nil {
			t.close("health check failed: " + err.Error())
		}
		f.checked(err)
	}
}

// freshTunnel picks a Ready pod now (no waiting) and dials it.
func (f *Forward) freshTunnel() (*tunnel, int32, error) {
	pods, _, err := f.src.snapshot(f.ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(pods) == 0 {
		return nil, 0, fmt.Errorf("%s: %w", f.res.describe, runtime.ErrNoPod)
	}
	pod := f.choose(pods, nil)
	port, err := f.res.port.resolve(pod)
	if err != nil {
		return nil, 0, err
	}
	t, err := f.getTunnel(f.ctx, pod)
	if err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	f.lastTunnel, f.port = t.key, port
	f.mu.Unlock()
	return t, port, nil
}

// checked records a check's result and logs a change of state.
func (f *Forward) checked(err error) {
	f.mu.Lock()
	if err == nil {
		f.health.failures, f.health.lastErr = 0, ""
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

// healthStatus is the forward's health now, without a network call.
func (f *Forward) healthStatus() (string, string) {
	if f.cfg.Health.Kind == HealthNone {
		return HealthNone, ""
	}
	f.mu.Lock()
	failures, lastErr := f.health.failures, f.health.lastErr
	f.mu.Unlock()
	if !f.listening.Load() {
		return HealthUnhealthy, "not listening"
	}
	if failures >= f.cfg.Health.FailureThreshold {
		return HealthUnhealthy, lastErr
	}
	f.src.mu.Lock()
	listOnly, store := f.src.listOnly, f.src.store
	f.src.mu.Unlock()
	if listOnly || store == nil {
		return HealthUnknown, lastErr
	}
	pods, _, _ := f.src.snapshot(f.ctx)
	if len(pods) == 0 {
		return HealthUnhealthy, "no Ready pod"
	}
	return HealthHealthy, lastErr
}

// tcpGrace is how long a TCP check waits for the error stream to report a
// failed connection to the pod's port; silence means it connected.
const tcpGrace = 500 * time.Millisecond

// check runs one health check through t.
func (f *Forward) check(t *tunnel, port int32) error {
	errStream, data, err := t.openPairWait(f.ctx, port, f.cfg.Health.Timeout)
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
		msg, err := io.ReadAll(errStream)
		switch {
		case len(msg) > 0:
			errMsg <- errors.New(strings.TrimSpace(string(msg)))
		case err != nil:
			errMsg <- fmt.Errorf("reading the error stream: %w", err)
		default:
			errMsg <- nil
		}
	}()
	timeout := time.NewTimer(f.cfg.Health.Timeout)
	defer timeout.Stop()
	switch f.cfg.Health.Kind {
	case HealthHTTP:
		result := make(chan error, 1)
		go func() { result <- httpCheck(data, f.cfg.Health.HTTPPath) }()
		select {
		case err := <-result:
			return err
		case err := <-errMsg:
			if err != nil {
				return err
			}
			select { // the error stream ended cleanly: the answer decides
			case err := <-result:
				return err
			case <-timeout.C:
				return fmt.Errorf("no answer within %s", f.cfg.Health.Timeout)
			}
		case <-timeout.C:
			return fmt.Errorf("no answer within %s", f.cfg.Health.Timeout)
		}
	default:
		// Read what a server that speaks first sends, and drop it:
		// spdystream hands a stream's data to one of five frame workers
		// per connection and blocks it until the stream is read, which
		// would stall every stream of the tunnel on that worker until the
		// check ends (the Reset below ends the read).
		go func() { _, _ = io.Copy(io.Discard, data) }()
		grace := time.NewTimer(min(tcpGrace, f.cfg.Health.Timeout))
		defer grace.Stop()
		select {
		case err := <-errMsg:
			return err
		case <-grace.C:
			return nil
		}
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
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}
