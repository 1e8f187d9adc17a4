package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// hasEvent reports whether f logged an event of kind whose message
// contains text.
func hasEvent(f *Forward, kind EventKind, text string) bool {
	evs, _ := f.Events(0)
	for _, ev := range evs {
		if ev.Kind == kind && strings.Contains(ev.Message, text) {
			return true
		}
	}
	return false
}

// A forward without a health block is not checked while nobody uses it,
// and says so: idle, not healthy — before its first connection, and again
// once its tunnel closed idle and its last check is older than an interval
// and a timeout.
func TestUncheckedIdleForwardSaysIdle(t *testing.T) {
	// IdleTimeout: longer than a TCP check (tcpGrace).
	env := newTestEnv(t, Options{IdleTimeout: time.Second}, webPod("web-a"))
	h := HealthConfig{Interval: 20 * time.Millisecond, Timeout: time.Second}
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: h})
	if s := f.Status(); s.Health != HealthIdle || !s.LastCheck.IsZero() {
		t.Errorf("before any connection: health %q, last check %v; want idle, never", s.Health, s.LastCheck)
	}
	if n := env.dialer.dials.Load(); n != 0 {
		t.Errorf("%d dials for an idle forward without a health block, want 0", n)
	}
	mustBanner(t, f)
	eventually(t, "a passing check while in use", func() bool { return f.Status().Health == HealthHealthy })
	eventually(t, "the tunnel to close idle", func() bool { return env.dialer.openConns() == 0 })
	env.clock.Add(h.Interval + h.Timeout + time.Second)
	eventually(t, "idle again", func() bool { return f.Status().Health == HealthIdle })
	if s := f.Status(); s.LastCheck.IsZero() {
		t.Errorf("idle after checks: no last check time")
	}
}

// A forward whose spec asks for checks is checked from its start, in use
// or not, and its checks keep the tunnel they need open.
func TestCheckedForwardIsCheckedWhileIdle(t *testing.T) {
	env := newTestEnv(t, Options{IdleTimeout: 50 * time.Millisecond}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{
		Interval: 20 * time.Millisecond, Timeout: time.Second, WhileIdle: true,
	}})
	eventually(t, "healthy without a connection", func() bool { return f.Status().Health == HealthHealthy })
	time.Sleep(200 * time.Millisecond) // four idle timeouts
	if n, open := env.dialer.dials.Load(), env.dialer.openConns(); n != 1 || open != 1 {
		t.Errorf("%d dials, %d open; want the checks to keep their one tunnel", n, open)
	}
	if s := f.Status(); s.Health != HealthHealthy || s.LastCheck.IsZero() {
		t.Errorf("health %q, last check %v", s.Health, s.LastCheck)
	}
}

// A path that goes silent (stream creations never answered, as through a
// frozen node) is never reported healthy once a check could not have
// passed, turns unhealthy, closes its tunnel saying why, and the forward
// is healthy again through a fresh tunnel once the path answers.
func TestSilentPathTurnsUnhealthyAndRecovers(t *testing.T) {
	env := newTestEnv(t, Options{Now: time.Now}, webPod("web-a"))
	h := HealthConfig{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond, FailureThreshold: 2, WhileIdle: true}
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: h})
	eventually(t, "healthy", func() bool { return f.Status().Health == HealthHealthy })

	dials := env.dialer.dials.Load() // the tunnel that goes silent
	env.dialer.hangCreate.Store(1 << 20)
	frozen := time.Now()
	for s := f.Status(); s.Health != HealthUnhealthy; s = f.Status() {
		if s.Health == HealthHealthy && time.Since(frozen) > h.Interval+h.Timeout {
			t.Fatalf("healthy %s after the path went silent", time.Since(frozen))
		}
		if time.Since(frozen) > 10*time.Second {
			t.Fatalf("not unhealthy after %s: %q", time.Since(frozen), s.Health)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("silent path to unhealthy: %s (interval %s × threshold %d + timeout %s)", time.Since(frozen), h.Interval, h.FailureThreshold, h.Timeout)
	if s := f.Status(); !strings.Contains(s.HealthError, "no answer") {
		t.Errorf("health error %q, want the unanswered stream", s.HealthError)
	}
	if !hasEvent(f, EventTunnelClose, "health check failed") {
		t.Error("no tunnel-close event saying the health check failed")
	}

	// The forward may have dialed its next tunnel already, while the
	// path was still silent: any dial after the freeze is a fresh one.
	env.dialer.hangCreate.Store(0)
	eventually(t, "healthy again", func() bool { return f.Status().Health == HealthHealthy })
	if n := env.dialer.dials.Load(); n <= dials {
		t.Errorf("healthy again without a fresh dial (%d dials)", n)
	}
	if got := mustBanner(t, f); got != "web-a" {
		t.Errorf("banner %q", got)
	}
}

// silentPeer accepts TCP connections, reads what comes and never answers
// (a frozen kubelet behind a tunnel); closed reports when a connection it
// accepted was closed by the other side.
type silentPeer struct {
	ln     net.Listener
	closed atomic.Int64
}

func newSilentPeer(t *testing.T) *silentPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentPeer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, c)
				p.closed.Add(1)
				c.Close()
			}()
		}
	}()
	return p
}

// Dial implements TunnelDialer with a real SPDY connection to the peer.
func (p *silentPeer) Dial(ctx context.Context, _ *Clients, _, _ string, _ Transport) (httpstream.Connection, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	return streamspdy.NewClientConnection(c)
}

// A tunnel closed because its checks got no answer lets its connection go:
// spdystream would otherwise keep it open for ever for the stream creations
// the other side never answered.
func TestSilentTunnelIsReleased(t *testing.T) {
	peer := newSilentPeer(t)
	env := newTestEnv(t, Options{Dialer: peer}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{
		Interval: time.Hour, Timeout: 100 * time.Millisecond, WhileIdle: true,
	}})
	eventually(t, "the check to fail", func() bool { return hasEvent(f, EventTunnelClose, "health check failed") })
	// 5 s: more than closeGrace.
	eventually(t, "the silent connection to close", func() bool { return peer.closed.Load() == 1 })
	if err := f.Stop(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

// A forward alone on its pod port checks every interval: its own last
// check is never taken as the next one (a check's age counts from when it
// began, and a forward shares only one that began within 3/4 of its
// interval), so a silent path is found within interval × threshold +
// timeout, not an interval later.
func TestLoneForwardChecksEveryInterval(t *testing.T) {
	env := newTestEnv(t, Options{Now: time.Now}, webPod("web-a"))
	// Longer than a TCP check (tcpGrace): each tick begins a new one.
	const interval = 600 * time.Millisecond
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{
		Interval: interval, Timeout: time.Second, WhileIdle: true,
	}})
	eventually(t, "healthy", func() bool { return f.Status().Health == HealthHealthy })
	before := env.dialer.streams.Load()
	time.Sleep(6 * interval)
	// One stream pair per check: about 6; reusing every other check's
	// verdict would make about 3.
	if n := env.dialer.streams.Load() - before; n < 5 {
		t.Errorf("%d checks in 6 intervals: the forward did not check every interval", n)
	}
}

// A panic in a health check (reading its streams, or the check loop's own
// goroutine) fails that check only: the agent and the forward go on, and a
// later check passes.
func TestPanicInHealthCheckFailsOnlyThatCheck(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		inject func(d *fakeDialer) *atomic.Int64
	}{
		{"tcp: draining the data stream", HealthTCP, func(d *fakeDialer) *atomic.Int64 { d.panicRead.Store(1); return &d.panicRead }},
		{"http: reading the answer", HealthHTTP, func(d *fakeDialer) *atomic.Int64 { d.panicRead.Store(1); return &d.panicRead }},
		{"the check loop", HealthTCP, func(d *fakeDialer) *atomic.Int64 { d.panicRemove.Store(1); return &d.panicRemove }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, Options{Now: time.Now}, webPod("web-a"))
			env.dialer.handler = func(_ string, _ int32, data io.ReadWriteCloser) string {
				defer data.Close()
				if _, err := readRequestLine(data); err == nil {
					_, _ = io.WriteString(data, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				}
				return ""
			}
			left := tt.inject(env.dialer)
			f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{
				Kind: tt.kind, HTTPPath: "/healthz", Interval: 100 * time.Millisecond, Timeout: time.Second, WhileIdle: true,
			}})
			eventually(t, "the panic", func() bool { return left.Load() == 0 })
			eventually(t, "a later check to pass", func() bool { return f.Status().Health == HealthHealthy })
		})
	}
}
