package engine

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// hold opens a connection through f, reads the pod's banner and keeps the
// connection open until the test ends.
func hold(t *testing.T, f *Forward) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("banner through %s: %v (status %+v)", f.Name(), err, f.Status())
	}
	return c, br
}

// refusedAtOnce dials f and reports whether the forward closed the
// connection without a byte: not served, not queued (a queued connection
// would read nothing until the deadline).
func refusedAtOnce(t *testing.T, f *Forward) bool {
	t.Helper()
	c, err := net.Dial("tcp", f.Addr().String())
	if isReset(err) { // the reset came before the connect returned
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return n == 0
	}
	t.Fatalf("read %d bytes, %v: want the connection closed at once", n, err)
	return false
}

// isReset reports whether err is a connection reset by the other side.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) ||
		err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "forcibly closed"))
}

func TestMaxConnectionsRefusesTheExcessAtOnce(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Name: "capped", Selector: webLabels, RemotePort: "http", MaxConnections: 2})
	other := env.start(Config{Name: "other", Selector: webLabels, RemotePort: "http"})
	held, br := hold(t, f)
	hold(t, f)
	for range 3 {
		if !refusedAtOnce(t, f) {
			t.Fatal("a connection beyond max_connections was not refused")
		}
	}
	if s := f.Status(); s.Refused != 3 || s.Active != 2 || s.Total != 2 {
		t.Errorf("status %+v: want 3 refused, 2 active, 2 served", s)
	}
	if n := env.e.Conns(); n != 2 {
		t.Errorf("engine holds %d connections, want the 2 served (refused ones never count)", n)
	}
	if got := mustBanner(t, other); got != "web-a" {
		t.Errorf("the other forward reached %q", got)
	}
	// The connections served go on.
	if _, err := io.WriteString(held, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if echo, err := br.ReadString('\n'); err != nil || echo != "ping\n" {
		t.Fatalf("echo on a held connection: %q, %v", echo, err)
	}
	evs, _ := f.Events(0)
	var refusals []Event
	for _, ev := range evs {
		if ev.Kind == EventConnRefused {
			refusals = append(refusals, ev)
		}
	}
	if len(refusals) != 1 || !strings.Contains(refusals[0].Message, "2 connections open") {
		t.Errorf("refusal events %+v: want one (a burst is told once)", refusals)
	}
	// Below the cap again, a new connection is served.
	held.Close()
	eventually(t, "the closed connection to end", func() bool { return f.Status().Active == 1 })
	eventually(t, "the engine's count to follow", func() bool { return env.e.Conns() == 1 })
	if got := mustBanner(t, f); got != "web-a" {
		t.Errorf("after one closed: reached %q", got)
	}
}

func TestMaxConnectionsDefault(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if f.cfg.MaxConnections != DefaultMaxConnections {
		t.Errorf("MaxConnections %d, want the default %d", f.cfg.MaxConnections, DefaultMaxConnections)
	}
	// A thousand at once are all served (another issue asks for it).
	if DefaultMaxConnections < 2000 {
		t.Errorf("DefaultMaxConnections %d: want well above 1000", DefaultMaxConnections)
	}
}

func TestStartRejectsWhatNoRetryFixes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty address", Config{Address: "", LocalPort: 0}, `address ""`},
		{"host name", Config{Address: "localhost"}, `address "localhost"`},
		{"host:port", Config{Address: "127.0.0.1:80"}, `address "127.0.0.1:80"`},
		{"port out of range", Config{Address: "127.0.0.1", LocalPort: 70000}, "local port 70000"},
		{"negative cap", Config{Address: "127.0.0.1", MaxConnections: -1}, "max connections -1"},
	}
	env := newTestEnv(t, Options{}, webPod("web-a"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Name, cfg.Selector, cfg.RemotePort, cfg.Namespace = "bad", webLabels, "http", "demo"
			f, err := env.e.Start(context.Background(), env.c, cfg)
			if err == nil {
				f.Stop()
				t.Fatalf("Start(%+v) succeeded, bound %s", cfg, f.Addr())
			}
			if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want a permanent error naming %s", err, tt.want)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1", "::1"} {
		f := env.start(Config{Name: "ok", Address: addr, Selector: webLabels, RemotePort: "http"})
		if got := mustBanner(t, f); got != "web-a" {
			t.Errorf("on %s: reached %q", addr, got)
		}
		_ = f.Stop()
	}
}

// TestPanicFailsOnlyItsConnection injects panics through the fakes the
// engine calls (its dialer, a stream, the upgraded connection) into each
// kind of goroutine that serves a connection: the connection fails, the
// panic is the forward's last error, and the forward, another forward and
// the process go on.
func TestPanicFailsOnlyItsConnection(t *testing.T) {
	tests := []struct {
		name   string
		inject func(d *fakeDialer)
		want   string
	}{
		{"dial", func(d *fakeDialer) { d.panicDial.Store(1) }, "dialing pod web-a"},
		{"stream read", func(d *fakeDialer) { d.panicRead.Store(1) }, "copying from the pod"},
		{"serving goroutine", func(d *fakeDialer) { d.panicRemove.Store(1) }, "serving a connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, Options{RefusedRetry: 100 * time.Millisecond, IdleTimeout: time.Hour}, webPod("web-a"))
			f := env.start(Config{Name: "hit", Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
			other := env.start(Config{Name: "other", Selector: webLabels, RemotePort: "8080", Health: HealthConfig{Kind: HealthNone}})
			tt.inject(env.dialer)
			_, _ = banner(t, f) // whatever it got, the panic ended it
			eventually(t, "the panic to be the last error", func() bool {
				return strings.Contains(f.Status().LastError, "internal error while "+tt.want)
			})
			eventually(t, "the connection to end", func() bool { return f.Status().Active == 0 })
			if got := mustBanner(t, f); got != "web-a" {
				t.Errorf("after the panic: reached %q", got)
			}
			if got := mustBanner(t, other); got != "web-a" {
				t.Errorf("other forward: reached %q", got)
			}
			if s := f.Status(); !s.Listening {
				t.Errorf("status %+v: want the forward listening", s)
			}
		})
	}
}

// TestPanicInAcceptLoopEndsOnlyThatForward panics in the accept loop
// (through the clock it reads to log a refusal): that forward stops
// listening and says why; its open connection, another forward and the
// process go on.
func TestPanicInAcceptLoopEndsOnlyThatForward(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	none := HealthConfig{Kind: HealthNone}
	f := env.start(Config{Name: "hit", Selector: webLabels, RemotePort: "http", MaxConnections: 1, Health: none})
	other := env.start(Config{Name: "other", Selector: webLabels, RemotePort: "http", Health: none})
	held, br := hold(t, f)
	env.clock.panics.Store(1)
	refusedAtOnce(t, f)
	eventually(t, "the forward to stop listening", func() bool { return !f.Status().Listening })
	if s := f.Status(); !strings.Contains(s.LastError, "internal error while accepting connections") {
		t.Errorf("last error %q: want the panic", s.LastError)
	}
	if _, err := io.WriteString(held, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if echo, err := br.ReadString('\n'); err != nil || echo != "ping\n" {
		t.Errorf("echo on the open connection: %q, %v", echo, err)
	}
	if got := mustBanner(t, other); got != "web-a" {
		t.Errorf("other forward: reached %q", got)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
