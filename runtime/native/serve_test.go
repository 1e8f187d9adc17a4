//go:build linux || darwin

package native

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// stubServer is a Server whose forwards listen on nothing: what they
// report is set by the test.
type stubServer struct {
	mu       sync.Mutex
	forwards map[string]*stubForward // by name
}

func (s *stubServer) Close() {}

func (s *stubServer) Start(_ context.Context, _ kubeconfig.Source, sp runtime.Spec) (Forward, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &stubForward{more: make(chan struct{})}
	if s.forwards == nil {
		s.forwards = map[string]*stubForward{}
	}
	s.forwards[sp.Name] = f
	return f, nil
}

func (s *stubServer) forward(name string) *stubForward {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forwards[name]
}

type stubForward struct {
	panics  atomic.Bool // Status panics
	stopped atomic.Bool

	mu     sync.Mutex
	events []engine.Event
	more   chan struct{}
}

func (f *stubForward) Stop() error { f.stopped.Store(true); return nil }

func (f *stubForward) Status() engine.Status {
	if f.panics.Load() {
		panic("stub status exploded")
	}
	return engine.Status{Listening: true, Addr: "127.0.0.1:1"}
}

// emit adds n events with messages of size bytes.
func (f *stubForward) emit(n, size int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.events = append(f.events, engine.Event{Seq: len(f.events) + 1, Kind: engine.EventConnOpened, Message: strings.Repeat("m", size)})
	}
	close(f.more)
	f.more = make(chan struct{})
}

func (f *stubForward) Events(since int) ([]engine.Event, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Event(nil), f.events[min(since, len(f.events)):]...), f.more
}

// inProcessAgent is an agent served by Serve in this process.
type inProcessAgent struct {
	dir, socket string
	cancel      context.CancelFunc
	done        chan error
	log         *testutil.SyncBuffer
}

// serveInProcess runs an agent with opts (StateDir, Log and Version are
// filled in) until the test ends.
func serveInProcess(t *testing.T, opts AgentOptions) *inProcessAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "kpfs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &inProcessAgent{dir: dir, socket: dir + "/" + SocketName, done: make(chan error, 1), log: &testutil.SyncBuffer{}}
	opts.StateDir, opts.Version = dir, "v1"
	if opts.IdleExit == 0 {
		opts.IdleExit = time.Hour // tests with no forward must not see it exit
	}
	opts.Log = hclog.New(&hclog.LoggerOptions{Output: a.log, Level: hclog.Debug})
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- Serve(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(30 * time.Second):
			t.Error("the agent did not exit")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := a.call(request{Op: opHello}); err == nil {
			return a
		} else if time.Now().After(deadline) {
			t.Fatalf("the agent does not answer: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call sends req; the generous timeout says "it answers at all".
func (a *inProcessAgent) call(req request) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return call(ctx, a.socket, req)
}

// stuckClient sends req and then never reads.
func (a *inProcessAgent) stuckClient(t *testing.T, req request) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", a.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req.Protocol = Protocol
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStuckWatchDoesNotWedge: a watch client that never reads while
// hundreds of its forwards stop (more lines than a socket buffers) does not
// block the other clients: sweep, hello and status answer. On main the
// agent wrote the watch lines holding its lock.
func TestStuckWatchDoesNotWedge(t *testing.T) {
	a := serveInProcess(t, AgentOptions{Serve: &stubServer{}})
	long := strings.Repeat("w", 2000)
	var ids []string
	for i := range 300 {
		s := spec(fmt.Sprintf("%s-%d", long, i), 0)
		resp, err := a.call(request{Op: opStart, Forward: forwardToWire(s)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.ID)
	}
	a.stuckClient(t, request{Op: opWatch, IDs: ids})
	time.Sleep(50 * time.Millisecond) // let the watch begin (not needed to pass)
	resp, err := a.call(request{Op: opSweep})
	if err != nil || len(resp.Stopped) != len(ids) {
		t.Fatalf("sweep: %d stopped, %v", len(resp.Stopped), err)
	}
	for _, op := range []string{opHello, opStatus, opHello} {
		if _, err := a.call(request{Op: op}); err != nil {
			t.Fatalf("%s with a stuck watch client: %v", op, err)
		}
	}
}

// TestStuckEventsClientDropped: an `events -f` client that never reads
// while its forward logs a lot is dropped (its connection closed), and
// hello and status answer meanwhile.
func TestStuckEventsClientDropped(t *testing.T) {
	srv := &stubServer{}
	a := serveInProcess(t, AgentOptions{Serve: srv})
	s := spec("api", 0)
	resp, err := a.call(request{Op: opStart, Forward: forwardToWire(s)})
	if err != nil {
		t.Fatal(err)
	}
	c := a.stuckClient(t, request{Op: opEvents, ID: resp.ID, Follow: true})
	f := srv.forward("api")
	for range 200 {
		f.emit(50, 1000) // 10 MB in all: far past any socket buffer
		if _, err := a.call(request{Op: opHello}); err != nil {
			t.Fatalf("hello with a stuck events client: %v", err)
		}
	}
	if _, err := a.call(request{Op: opStatus}); err != nil {
		t.Fatalf("status with a stuck events client: %v", err)
	}
	// Dropped: reading what was sent ends in EOF, not in a wait.
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("the stuck client was not dropped: read %d bytes, then %v", n, err)
	}
	if !strings.Contains(a.log.String(), "dropping a control client") {
		t.Errorf("the drop was not logged:\n%s", a.log.String())
	}
}

// TestRequestLimits: a request past MaxRequest is answered with an error
// and its connection closed; so is one that is not JSON; a client that
// says nothing is closed after RequestTimeout.
func TestRequestLimits(t *testing.T) {
	big := `{"protocol":1,"op":"hello","id":"` + strings.Repeat("x", 2*MaxRequest) + "\"}\n"
	for _, tc := range []struct {
		name, send, want string
		timeout          time.Duration // the agent's RequestTimeout
	}{
		{"too large", big, "bad request: larger than", time.Minute},
		{"not JSON", "hello?\n", "bad request", time.Minute},
		{"silent", "", "", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serveInProcess(t, AgentOptions{Serve: &stubServer{}, RequestTimeout: tc.timeout})
			defer func() {
				if _, err := a.call(request{Op: opHello}); err != nil {
					t.Errorf("hello afterwards: %v", err)
				}
			}()
			c, err := net.Dial("unix", a.socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() { _, _ = io.WriteString(c, tc.send) }() // it may stop reading
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(bufio.NewReader(c))
			if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("not closed: %v (read %q)", err, b)
			}
			if tc.want == "" && len(b) > 0 || !strings.Contains(string(b), tc.want) {
				t.Fatalf("answer %q, want %q", b, tc.want)
			}
		})
	}
}

// TestShutdownClosesIdleConnections: a client that connected and said
// nothing does not keep a shut-down agent alive.
func TestShutdownClosesIdleConnections(t *testing.T) {
	a := serveInProcess(t, AgentOptions{Serve: &stubServer{}, RequestTimeout: time.Hour})
	c, err := net.Dial("unix", a.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond) // accepted (not needed to pass)
	if _, err := a.call(request{Op: opShutdown}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("an idle control connection keeps the agent from exiting")
	}
}

// TestPanickingRequestFailsAlone: a forward whose Status panics fails the
// status request that asked for it (an error answer naming the panic,
// logged with its stack) and nothing else: the agent answers, the other
// forward is not stopped.
func TestPanickingRequestFailsAlone(t *testing.T) {
	srv := &stubServer{}
	a := serveInProcess(t, AgentOptions{Serve: srv})
	ids := map[string]string{}
	for _, name := range []string{"good", "bad"} {
		s := spec(name, 0)
		resp, err := a.call(request{Op: opStart, Forward: forwardToWire(s)})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = resp.ID
	}
	srv.forward("bad").panics.Store(true)
	_, err := a.call(request{Op: opStatus})
	if err == nil || !strings.Contains(err.Error(), "stub status exploded") {
		t.Fatalf("status of a panicking forward: %v", err)
	}
	if !strings.Contains(a.log.String(), "goroutine ") {
		t.Errorf("the panic was logged without its stack:\n%s", a.log.String())
	}
	resp, err := a.call(request{Op: opStatus, IDs: []string{ids["good"]}})
	if err != nil || !resp.Statuses[ids["good"]].Listening {
		t.Fatalf("status of the other forward: %+v, %v", resp, err)
	}
	if resp, err := a.call(request{Op: opHello}); err != nil || resp.Hello.Forwards != 2 {
		t.Fatalf("hello after a panic: %+v, %v", resp, err)
	}
	if srv.forward("good").stopped.Load() {
		t.Fatal("a panic stopped another forward")
	}
}

// TestRequestOfAnotherStateDir: an agent refuses a request naming another
// workspace's state directory (one reached through a hard link).
func TestRequestOfAnotherStateDir(t *testing.T) {
	srv := &stubServer{}
	a := serveInProcess(t, AgentOptions{Serve: srv})
	s := spec("api", 0)
	if _, err := a.call(request{Op: opStart, Forward: forwardToWire(s), StateDir: a.dir}); err != nil {
		t.Fatal(err)
	}
	_, err := a.call(request{Op: opSweep, StateDir: "/elsewhere"})
	if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "/elsewhere") || !strings.Contains(err.Error(), a.dir) {
		t.Fatalf("sweep naming another state dir: %v", err)
	}
	if srv.forward("api").stopped.Load() {
		t.Fatal("the refused sweep stopped a forward")
	}
}
