//go:build linux || darwin

package native

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// The test binary doubles as the agent: Runtime.spawn runs it with
// "agent --state-dir DIR", and TestMain then supervises itself run with
// "--serve" (as kpf does), which serves with echoServer, a stand-in for
// the engine that listens for real and answers each connection with the
// forward's name, then echoes.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "agent" && os.Args[2] == "--state-dir" {
		if err := testAgent(os.Args[3], os.Args[4:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 2 && os.Args[1] == "dial-peer" {
		os.Exit(dialPeer(os.Args[2]))
	}
	os.Exit(m.Run())
}

// testAgent is `kpf agent` of the test binary: the flags are kpf's.
// KPF_TEST_SERVE_EXIT makes a serving agent exit with that code at once.
func testAgent(stateDir string, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	serve := fs.Bool("serve", false, "")
	instance := fs.String("instance", "", "")
	keptN := fs.Int("kept-listeners", -1, "")
	supervisor := fs.Int("supervisor", 0, "")
	restarts := fs.Int("restarts", 0, "")
	cause := fs.String("restart-cause", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n, _ := strconv.ParseUint(os.Getenv("KPF_TEST_NOFILE"), 10, 64); n > 0 {
		lim := syscall.Rlimit{Cur: n, Max: n} // soft and hard: Serve raises soft to hard
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
	}
	scrub := redact.New()
	log := hclog.New(&hclog.LoggerOptions{Output: scrub.Writer(os.Stderr), Level: hclog.Debug})
	if !*serve {
		// KPF_TEST_LIVENESS: the grace, interval and timeout of the
		// supervisor's liveness checks.
		every, _ := time.ParseDuration(os.Getenv("KPF_TEST_LIVENESS"))
		live := Liveness{Grace: every, Interval: every, Timeout: every}
		return Supervise(context.Background(), SuperviseOptions{StateDir: stateDir, Log: log, Executable: os.Args[0], Args: os.Args[1:], Liveness: live})
	}
	if code, err := strconv.Atoi(os.Getenv("KPF_TEST_SERVE_EXIT")); err == nil {
		os.Exit(code)
	}
	ln, err := InheritedListener()
	if err != nil {
		return err
	}
	kept, err := InheritedKept(*keptN, log)
	if err != nil {
		return err
	}
	if words := os.Getenv("KPF_TEST_LAST_WORDS"); words != "" {
		// On SIGUSR1: die as a panic that escaped would, printing words.
		usr := make(chan os.Signal, 1)
		signal.Notify(usr, syscall.SIGUSR1)
		go func() {
			<-usr
			fmt.Fprintf(os.Stderr, "%s\n\ngoroutine 7 [running]:\n", words)
			os.Exit(2)
		}()
	}
	idle, _ := time.ParseDuration(os.Getenv("KPF_TEST_IDLE_EXIT"))
	return Serve(context.Background(), AgentOptions{
		StateDir: stateDir, Version: os.Getenv("KPF_TEST_AGENT_VERSION"), IdleExit: idle,
		Log: log, Serve: echoServer{listen: kept.Listen}, Listener: ln, Scrubber: scrub, Kept: kept,
		Instance: *instance, Supervisor: *supervisor, Restarts: *restarts, RestartCause: *cause,
	})
}

// echoServer serves forwards that greet with their name and echo; listen
// binds their listeners (nil: net.Listen).
type echoServer struct {
	listen func(ctx context.Context, addr string) (net.Listener, error)
}

func (echoServer) Close() {}

func (e echoServer) Start(ctx context.Context, _ kubeconfig.Source, s runtime.Spec) (Forward, error) {
	if strings.HasSuffix(s.Target.Name, "missing") {
		return nil, fmt.Errorf("%s not found: %w", s.Target.String(), runtime.ErrPermanent)
	}
	listen := e.listen
	if listen == nil {
		listen = func(_ context.Context, addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
	}
	ln, err := listen(ctx, net.JoinHostPort(s.Address, strconv.Itoa(s.LocalPort)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listening: %w: %w", err, runtime.ErrPortInUse)
	}
	if err != nil {
		return nil, err
	}
	f := &echoForward{name: s.Name, target: s.Target.String(), ln: ln, since: time.Now(), more: make(chan struct{})}
	f.add(engine.Event{Kind: engine.EventListening, Message: ln.Addr().String() + " -> " + s.Target.String()})
	go f.accept()
	return f, nil
}

type echoForward struct {
	name   string
	target string
	ln     net.Listener
	since  time.Time
	total  atomic.Int64

	mu     sync.Mutex
	events []engine.Event
	more   chan struct{}
}

func (f *echoForward) add(ev engine.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.Seq, ev.Time = len(f.events)+1, time.Now()
	f.events = append(f.events, ev)
	close(f.more)
	f.more = make(chan struct{})
}

func (f *echoForward) accept() {
	for {
		c, err := f.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of descriptors: as the engine does, wait
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.total.Add(1)
		f.add(engine.Event{Kind: engine.EventConnOpened, Pod: f.name + "-pod"})
		go func() {
			defer c.Close()
			fmt.Fprintf(c, "%s\n", f.name)
			_, _ = io.Copy(c, c)
		}()
	}
}

func (f *echoForward) Stop() error { return f.ln.Close() }

func (f *echoForward) Status() engine.Status {
	return engine.Status{
		Listening: true, Addr: f.ln.Addr().String(), Pod: f.name + "-pod", Total: f.total.Load(), Health: "healthy",
		LastError: "last dial to " + f.target, Since: f.since,
	}
}

func (f *echoForward) Events(since int) ([]engine.Event, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if since >= len(f.events) {
		return nil, f.more
	}
	return append([]engine.Event(nil), f.events[since:]...), f.more
}

// newRuntime is a Runtime whose agent is this test binary, in a state
// directory short enough for a unix socket.
func newRuntime(t *testing.T, version string) *Runtime {
	t.Helper()
	dir, err := os.MkdirTemp("", "kpfn")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{StateDir: dir, Executable: os.Args[0], Version: version}
	t.Cleanup(func() {
		ctx := context.Background()
		sup, pid := r.SupervisorPID(ctx), r.AgentPID(ctx) // the supervisor first: it would restart the other
		for _, p := range []int{sup, pid} {
			if p > 0 {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		os.RemoveAll(dir)
	})
	t.Setenv("KPF_TEST_AGENT_VERSION", version)
	t.Setenv("KPF_TEST_IDLE_EXIT", "30s")
	return r
}

func spec(name string, port int) runtime.Spec {
	return runtime.Spec{Name: name, Target: kinds.Target{Kind: kinds.Service, Name: name}, Context: "c", Namespace: "ns", Address: "127.0.0.1", LocalPort: port, RemotePort: "80"}
}

// greet connects to port and returns the first line (the forward's name).
func greet(t *testing.T, port int) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestAgentLifecycle: the first Start spawns the agent (a real detached
// process); forwards serve; Inspect reports the agent's status; Stop closes
// the listener; the socket is 0600; Sweep stops what no state names.
func TestAgentLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	pa, pb := testutil.FreePort(t), testutil.FreePort(t)
	ha, err := r.Start(ctx, spec("api", pa))
	if err != nil {
		t.Fatal(err)
	}
	hb, err := r.Start(ctx, spec("web", pb))
	if err != nil {
		t.Fatal(err)
	}
	if ha.Runtime != Name || ha.ID == "" || ha == hb {
		t.Fatalf("handles %v %v", ha, hb)
	}
	pid := r.AgentPID(ctx)
	if pid <= 0 || pid == os.Getpid() {
		t.Fatalf("agent pid %d", pid)
	}
	sup := r.SupervisorPID(ctx)
	if sid, err := unix.Getsid(sup); err != nil || sid != sup || sup == pid {
		t.Errorf("supervisor %d: session %d (%v), want its own", sup, sid, err)
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != sup {
		t.Errorf("serving agent session %d (%v), want its supervisor's (%d)", sid, err, sup)
	}
	for port, want := range map[int]string{pa: "api", pb: "web"} {
		if got, err := greet(t, port); err != nil || got != want {
			t.Fatalf("port %d answered %q, %v; want %q", port, got, err, want)
		}
	}
	st, err := r.Inspect(ctx, ha)
	if err != nil || !st.Alive || st.Total != 1 || st.Pod != "api-pod" || !st.Heals || st.Health != "healthy" {
		t.Fatalf("Inspect = %+v, %v", st, err)
	}
	socket, _ := SocketPath(r.StateDir)
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	var logs strings.Builder
	if err := r.Logs(ctx, ha, false, &logs); err != nil || !strings.Contains(logs.String(), "conn-opened pod=api-pod") {
		t.Errorf("logs %q, %v", logs.String(), err)
	}

	// Sweep keeps what state names and stops the rest.
	stopped, err := r.Sweep(ctx, []runtime.Handle{ha})
	if err != nil || len(stopped) != 1 || !strings.Contains(stopped[0], "web") {
		t.Fatalf("Sweep = %q, %v", stopped, err)
	}
	if _, err := greet(t, pb); err == nil {
		t.Error("a swept forward still serves")
	}
	if st, _ := r.Inspect(ctx, hb); st.Alive {
		t.Error("a swept forward reads alive")
	}

	for i := range 2 {
		if err := r.Stop(ctx, ha); err != nil {
			t.Fatalf("stop #%d: %v", i+1, err)
		}
	}
	if _, err := greet(t, pa); err == nil {
		t.Error("a stopped forward still serves")
	}
}

// TestStartErrors: the agent's errors keep their sentinels.
func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = r.Start(ctx, spec("api", busy.Addr().(*net.TCPAddr).Port))
	if !errors.Is(err, runtime.ErrPortInUse) || runtime.IsPermanent(err) {
		t.Errorf("port in use: %v", err)
	}
	s := spec("api", testutil.FreePort(t))
	s.Target = kinds.Target{Kind: kinds.Service, Name: "missing"}
	if _, err := r.Start(ctx, s); !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing target: %v", err)
	}
}

// TestStartBadWireTarget: a start whose target string (protocol 1) does
// not parse — a client of another build — is refused with a permanent
// error in the engine's words, the target scrubbed when it is sensitive.
func TestStartBadWireTarget(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	if _, err := r.Start(ctx, spec("up", testutil.FreePort(t))); err != nil { // brings the agent up
		t.Fatal(err)
	}
	socket, err := r.socket()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, target string
		sensitive    []string
		want         string
	}{
		{"kind", "job/x", nil, `forward kind: target "job/x": unknown kind "job" (want service, pod, deployment or statefulset)`},
		{"name", "service/a/b", nil, `forward name: target "service/a/b": want TYPE/NAME`},
		{"sensitive", "job/zq7x3kv", []string{redact.FieldTarget}, `forward sensitive: target "` + redact.Placeholder + `": unknown kind "job"`},
	} {
		w := forwardToWire(spec(tt.name, testutil.FreePort(t)))
		w.Target, w.Sensitive = tt.target, tt.sensitive
		_, err := call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStart, Forward: w})
		if !runtime.IsPermanent(err) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: start answered %v, want a permanent error starting %q", tt.name, err, tt.want)
		}
	}
}

// TestAgentKilled: when the agent dies with its supervisor (kill -9 of
// both) its forwards are gone — nothing keeps listening — every handle
// reads not alive, Watch reports each exit at once, and the next Start
// replaces the stale socket with a new agent.
func TestAgentKilled(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	port := testutil.FreePort(t)
	h, err := r.Start(ctx, spec("api", port))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := r.Watch(wctx, []runtime.Handle{h})
	sup, pid := r.SupervisorPID(ctx), r.AgentPID(ctx)
	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Handle != h || ev.Kind != runtime.EventExited {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit event after the agent was killed")
	}
	if st, err := r.Inspect(ctx, h); err != nil || st.Alive {
		t.Fatalf("after kill: %+v, %v", st, err)
	}
	if _, err := greet(t, port); err == nil {
		t.Fatal("the port still serves after the agent died")
	}
	h2, err := r.Start(ctx, spec("api", port))
	if err != nil {
		t.Fatalf("start after a dead agent: %v", err)
	}
	if got, err := greet(t, port); err != nil || got != "api" {
		t.Fatalf("new agent answered %q, %v", got, err)
	}
	if err := r.Stop(ctx, h); err != nil { // the old handle names nothing now
		t.Fatal(err)
	}
	if got, _ := greet(t, port); got != "api" {
		t.Fatal("stopping the dead agent's handle touched the new forward")
	}
	if st, _ := r.Inspect(ctx, h2); !st.Alive {
		t.Fatal("new forward not alive")
	}
}

// TestAgentReplacedOnVersion: a kpf of another version replaces the agent
// (its forwards are gone); the agent exits once it has no forwards.
func TestAgentReplacedOnVersion(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	h, err := r.Start(ctx, spec("api", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	old := r.AgentPID(ctx)

	r2 := &Runtime{StateDir: r.StateDir, Executable: os.Args[0], Version: "v2"}
	t.Setenv("KPF_TEST_AGENT_VERSION", "v2")
	t.Setenv("KPF_TEST_IDLE_EXIT", "300ms")
	h2, err := r2.Start(ctx, spec("web", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	if pid := r2.AgentPID(ctx); pid == old || pid == 0 {
		t.Fatalf("agent not replaced: pid %d (old %d)", pid, old)
	}
	if st, _ := r2.Inspect(ctx, h); st.Alive {
		t.Error("the old agent's forward reads alive under the new agent")
	}
	if err := r2.Stop(ctx, h2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r2.AgentPID(ctx) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not exit with no forwards left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	socket, _ := SocketPath(r.StateDir)
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestSocketPathTooLong(t *testing.T) {
	_, err := SocketPath("/" + strings.Repeat("x", 120))
	if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "KPF_STATE_DIR") {
		t.Errorf("err = %v", err)
	}
	if p, err := SocketPath(filepath.Join("/tmp", "ws")); err != nil || p != "/tmp/ws/agent.sock" {
		t.Errorf("%q %v", p, err)
	}
}

// TestHungUpAgentIsNoAgent: an agent that accepts a connection and closes
// it without an answer (killed a moment ago: the socket still accepted) is
// no agent, so Inspect reads the forward as not alive instead of failing.
func TestHungUpAgentIsNoAgent(t *testing.T) {
	dir, err := os.MkdirTemp("", "kpfh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := &Runtime{StateDir: dir, Version: "v1"}
	data, err := runtime.NewData(handleData{Agent: "gone", Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Inspect(context.Background(), runtime.Handle{Runtime: Name, ID: "api-1", Data: data})
	if err != nil || st.Alive {
		t.Errorf("Inspect through an agent that hangs up: %+v, %v; want not alive, no error", st, err)
	}
	if _, err := r.hello(context.Background()); !errors.Is(err, errNoAgent) {
		t.Errorf("hello: %v, want errNoAgent", err)
	}
}

// TestStopIdle: an agent with forwards is left alone; once it has
// none, StopIdle ends it at once (not after its idle exit).
func TestStopIdle(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1") // idle exit 30 s
	if err := r.StopIdle(ctx); err != nil {
		t.Fatalf("without an agent: %v", err)
	}
	h, err := r.Start(ctx, spec("api", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	pid := r.AgentPID(ctx)
	if err := r.StopIdle(ctx); err != nil || r.AgentPID(ctx) != pid {
		t.Fatalf("an agent serving a forward: %v, pid %d -> %d; want it kept", err, pid, r.AgentPID(ctx))
	}
	if err := r.Stop(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := r.StopIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.AgentPID(ctx); got != 0 {
		t.Errorf("the idle agent (pid %d) still answers", got)
	}
	if _, err := os.Stat(filepath.Join(r.StateDir, SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after the agent stopped: %v", err)
	}
}

// TestUndecodableHandleIsPermanent: a handle whose data does not decode
// (a damaged state file) is a permanent error of Stop, Inspect and Logs,
// with the hint that drops the record; no retry would repair it.
func TestUndecodableHandleIsPermanent(t *testing.T) {
	t.Parallel()
	r := &Runtime{StateDir: t.TempDir()}
	ctx := t.Context()
	for _, data := range []runtime.Data{"", "{", `"agent"`, `[1,2]`, `{"agent": 7}`} {
		h := runtime.Handle{Runtime: Name, ID: "api-0123abcd", Data: data}
		for op, call := range map[string]func() error{
			"stop":    func() error { return r.Stop(ctx, h) },
			"inspect": func() error { _, err := r.Inspect(ctx, h); return err },
			"logs":    func() error { return r.Logs(ctx, h, false, io.Discard) },
		} {
			err := call()
			if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "kpf destroy --forget") {
				t.Errorf("%s with data %q: err = %v, want permanent with the --forget hint", op, data, err)
			}
		}
	}
}
