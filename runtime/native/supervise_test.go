//go:build linux || darwin

package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/internal/testwait"
	"github.com/kpf-dev/kpf/runtime"
)

// gone reports whether pid no longer runs (reaped, or never ours).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// TestKilledAgentServesAgain: kill -9 of the serving agent — the
// supervisor starts a new one at once, which serves every forward again on
// its port under the same handle (Inspect: alive; Watch: no exit), and
// says why it was restarted; a stopped forward does not come back, neither
// after the first kill nor after a second.
func TestKilledAgentServesAgain(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	ports := map[string]int{"api": testutil.FreePort(t), "web": testutil.FreePort(t), "db": testutil.FreePort(t)}
	hs := map[string]runtime.Handle{}
	for name, port := range ports {
		h, err := r.Start(ctx, spec(name, port))
		if err != nil {
			t.Fatal(err)
		}
		hs[name] = h
	}
	if err := r.Stop(ctx, hs["db"]); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := r.Watch(wctx, []runtime.Handle{hs["api"], hs["web"]})
	before, _ := r.hello(ctx)

	for i, tc := range []struct {
		stop  string   // stopped before this kill ("": none)
		serve []string // serving again after it
		not   []string // not serving after it
	}{
		{"", []string{"api", "web"}, []string{"db"}},
		{"api", []string{"web"}, []string{"api", "db"}},
	} {
		if tc.stop != "" {
			if err := r.Stop(ctx, hs[tc.stop]); err != nil {
				t.Fatal(err)
			}
			select { // its exit
			case <-events:
			case <-time.After(10 * time.Second):
				t.Fatalf("no exit event for the stopped forward %s", tc.stop)
			}
		}
		pid := r.AgentPID(ctx)
		killedAt := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for _, name := range tc.serve {
			testwait.For(t, 10*time.Second, 10*time.Millisecond, name+" serving again", func() bool {
				got, err := greet(t, ports[name])
				return err == nil && got == name
			})
			if st, err := r.Inspect(ctx, hs[name]); err != nil || !st.Alive || st.Restarts != i+1 || !st.Since.After(killedAt) {
				t.Errorf("kill %d: %s after the restart: %+v, %v; want alive under the same handle, restarted %d times, since the kill", i, name, st, err, i+1)
			}
		}
		for _, name := range tc.not {
			if got, err := greet(t, ports[name]); err == nil {
				t.Errorf("kill %d: stopped forward %s serves again (%q)", i, name, got)
			}
			if st, _ := r.Inspect(ctx, hs[name]); st.Alive {
				t.Errorf("kill %d: stopped forward %s alive again", i, name)
			}
		}
		h, err := r.hello(ctx)
		if err != nil || h.PID == pid || h.Supervisor != before.Supervisor || h.Instance != before.Instance ||
			h.Restarts != i+1 || !strings.Contains(h.RestartCause, "killed") {
			t.Errorf("kill %d: hello %+v, %v; want a new pid, the same supervisor %d and instance, restart %d by a kill", i, h, err, before.Supervisor, i+1)
		}
	}
	select {
	case ev := <-events:
		t.Errorf("watch reported %+v of a forward that serves again", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestKeptListenersWaitForTheNextAgent: while no serving agent runs (the
// killed one is dead, its supervisor is stopped before it starts the next),
// a forward's port still accepts: the supervisor keeps a copy of its
// listener, and the connection waits in its backlog until the next agent
// inherits the listener and serves it. A forward stopped afterwards frees
// its port at once (the supervisor's copy closes with it). What a restart
// does with copies no forward takes: TestKeptListenerLifecycle.
func TestKeptListenersWaitForTheNextAgent(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	port := testutil.FreePort(t)
	h, err := r.Start(ctx, spec("api", port))
	if err != nil {
		t.Fatal(err)
	}
	sup, pid := r.SupervisorPID(ctx), r.AgentPID(ctx)
	if err := syscall.Kill(sup, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(sup, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, 5*time.Millisecond, "the killed agent exited", func() bool { return exited(t, pid) })

	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatalf("connecting while no agent runs: %v; want it accepted into the kept listener's backlog", err)
	}
	defer c.Close()
	resume()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || strings.TrimSpace(line) != "api" {
		t.Fatalf("the waiting connection: %q, %v; want the next agent to serve it", line, err)
	}
	if r.AgentPID(ctx) == pid {
		t.Fatal("served by the killed agent")
	}

	if err := r.Stop(ctx, h); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("binding a stopped forward's port: %v; want it free (no copy kept)", err)
	}
	ln.Close()
}

// exited reports whether pid has exited (a zombie counts: its sockets are
// closed).
func exited(t *testing.T, pid int) bool {
	t.Helper()
	if gone(pid) {
		return true
	}
	if goruntime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		return strings.HasPrefix(rest, "Z")
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err != nil || strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

// TestHungAgentIsReplaced: a serving agent that answers nothing (stopped
// with SIGSTOP: alive, silent) is killed by its supervisor after its
// liveness checks fail, and a new one serves the forwards again, saying
// why it was restarted.
func TestHungAgentIsReplaced(t *testing.T) {
	t.Setenv("KPF_TEST_LIVENESS", "200ms")
	ctx := context.Background()
	r := newRuntime(t, "v1")
	port := testutil.FreePort(t)
	if _, err := r.Start(ctx, spec("api", port)); err != nil {
		t.Fatal(err)
	}
	pid := r.AgentPID(ctx)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // before newRuntime's, which asks the agents for their pids
	testwait.For(t, 15*time.Second, 20*time.Millisecond, "a new serving agent", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond) // the stopped one answers nothing
		defer cancel()
		h, err := r.hello(cctx)
		return err == nil && h.PID != pid
	})
	if !gone(pid) {
		t.Errorf("the hung agent %d still runs", pid)
	}
	if got, err := greet(t, port); err != nil || got != "api" {
		t.Errorf("api after the restart: %q, %v", got, err)
	}
	if h, err := r.hello(ctx); err != nil || h.Restarts != 1 || !strings.Contains(h.RestartCause, "hung") {
		t.Errorf("hello %+v, %v; want restart 1, cause: hung", h, err)
	}
}

// TestLastWordsScrubbed: what a serving agent prints as it dies (a panic's
// trace, outside its scrubbed log) reaches agent.out through its
// supervisor with the persisted forwards' sensitive values scrubbed, and
// the agent serves again.
func TestLastWordsScrubbed(t *testing.T) {
	const secret = "s3cr3t-namespace"
	t.Setenv("KPF_TEST_LAST_WORDS", "panic: listing pods in "+secret+": boom")
	ctx := context.Background()
	r := newRuntime(t, "v1")
	port := testutil.FreePort(t)
	sp := spec("api", port)
	sp.Namespace, sp.Sensitive = secret, []string{redact.FieldNamespace}
	if _, err := r.Start(ctx, sp); err != nil {
		t.Fatal(err)
	}
	pid := r.AgentPID(ctx)
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, "api served by a new agent", func() bool {
		got, err := greet(t, port)
		return err == nil && got == "api" && r.AgentPID(ctx) != pid
	})
	out, err := os.ReadFile(filepath.Join(r.StateDir, "logs", "agent.out"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "panic: listing pods in "+redact.Placeholder+": boom") || strings.Contains(string(out), secret) {
		t.Errorf("agent.out:\n%s\nwant the panic line, scrubbed", out)
	}
}

// TestSupervisorExitsWithAgent: once every forward is stopped and the idle
// agent told to exit, the supervisor exits too and the socket is gone.
func TestSupervisorExitsWithAgent(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	h, err := r.Start(ctx, spec("api", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	sup, pid := r.SupervisorPID(ctx), r.AgentPID(ctx)
	if sup <= 0 || sup == pid {
		t.Fatalf("supervisor %d, serving agent %d", sup, pid)
	}
	if err := r.Stop(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := r.StopIdle(ctx); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, "supervisor and serving agent gone", func() bool {
		return gone(sup) && gone(pid)
	})
	if _, err := os.Lstat(filepath.Join(r.StateDir, SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after both exited: %v", err)
	}
}

// TestCrashLoopWithoutForwardsGivesUp: a serving agent that dies at every
// start while no forward is persisted makes the supervisor give up (after
// a few tries), and Start says the agent exited.
func TestCrashLoopWithoutForwardsGivesUp(t *testing.T) {
	r := newRuntime(t, "v1")
	t.Setenv("KPF_TEST_SERVE_EXIT", "3")
	_, err := r.Start(context.Background(), spec("api", testutil.FreePort(t)))
	if err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Fatalf("Start: %v; want the agent exited at start", err)
	}
	if _, err := os.Lstat(filepath.Join(r.StateDir, SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after the supervisor gave up: %v", err)
	}
}

// inProcessRuntime is a Runtime on a new state directory, for an agent
// startInProcess serves.
func inProcessRuntime(t *testing.T) *Runtime {
	t.Helper()
	dir, err := os.MkdirTemp("", "kpfr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &Runtime{StateDir: dir, Version: "v1"}
}

// startInProcess runs Serve in this process as a serving agent of
// instance inst (its listener bound here, as a supervisor would), until
// the test ends.
func startInProcess(t *testing.T, r *Runtime, inst string) {
	t.Helper()
	startInProcessWith(t, r, inst, echoServer{})
}

func startInProcessWith(t *testing.T, r *Runtime, inst string, srv Server) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(r.StateDir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, AgentOptions{StateDir: r.StateDir, Version: "v1", Listener: ln, Instance: inst, Serve: srv, IdleExit: time.Minute})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func handleOf(t *testing.T, inst, id, name string) runtime.Handle {
	t.Helper()
	data, err := runtime.NewData(handleData{Agent: inst, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return runtime.Handle{Runtime: Name, ID: id, Data: data}
}

// TestRestore: a serving agent serves again the persisted forwards of its
// own instance under their ids — one whose port is taken reads not alive
// with the reason and is retried until it serves — and ignores (and
// replaces) a set of another instance.
func TestRestore(t *testing.T) {
	for _, tc := range []struct {
		name, setOf string
		restored    bool
	}{
		{"own instance", "inst-1", true},
		{"another instance", "inst-0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := inProcessRuntime(t)
			free := testutil.FreePort(t)
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			busy := taken.Addr().(*net.TCPAddr).Port
			set := forwardSet{Instance: tc.setOf, Forwards: []persistedForward{
				{ID: "api-1", Name: "api", Spec: spec("api", free)},
				{ID: "web-1", Name: "web", Spec: spec("web", busy)},
			}}
			if err := writeForwardSet(r.StateDir, set); err != nil {
				t.Fatal(err)
			}
			startInProcess(t, r, "inst-1")
			ctx := context.Background()
			hs := []runtime.Handle{handleOf(t, "inst-1", "api-1", "api"), handleOf(t, "inst-1", "web-1", "web")}
			sts, errs := r.InspectMany(ctx, hs)
			if errors.Join(errs...) != nil {
				t.Fatal(errs)
			}
			if !tc.restored {
				if sts[0].Alive || sts[1].Alive {
					t.Errorf("forwards of another instance restored: %+v", sts)
				}
				got, err := readForwardSet(r.StateDir)
				if err != nil || got.Instance != "inst-1" || len(got.Forwards) != 0 {
					t.Errorf("forward set after start: %+v, %v; want this instance's, empty", got, err)
				}
				return
			}
			if got, err := greet(t, free); err != nil || got != "api" || !sts[0].Alive {
				t.Errorf("api: %+v, greet %q, %v", sts[0], got, err)
			}
			if sts[1].Alive || !strings.Contains(sts[1].LastError, "starting again") {
				t.Errorf("web on a taken port: %+v; want not alive, starting again", sts[1])
			}
			taken.Close()
			testwait.For(t, 15*time.Second, 50*time.Millisecond, "web served once its port is free", func() bool {
				got, err := greet(t, busy)
				return err == nil && got == "web"
			})
		})
	}
}

// TestForwardSetFile: the set is written 0600 and read back whole; a
// missing file is an empty set; a symbolic link in its place is refused.
func TestForwardSetFile(t *testing.T) {
	dir := t.TempDir()
	if set, err := readForwardSet(dir); err != nil || set.Instance != "" || len(set.Forwards) != 0 {
		t.Fatalf("missing file: %+v, %v", set, err)
	}
	want := forwardSet{Instance: "i", Forwards: []persistedForward{{ID: "api-1", Name: "api", Spec: spec("api", 8080)}}}
	if err := writeForwardSet(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, ForwardsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	got, err := readForwardSet(dir)
	if err != nil || got.Instance != "i" || len(got.Forwards) != 1 || got.Forwards[0].Spec.LocalPort != 8080 {
		t.Errorf("read back %+v, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
	link := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, ForwardsFile), filepath.Join(link, ForwardsFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := readForwardSet(link); err == nil {
		t.Error("a symbolic link was read")
	}
}

// TestForwardSetFileTarget: a persisted spec's target is written as
// TYPE/NAME, as agents have always written it (an agent reads its
// predecessor's file), and read back parsed; a file whose target does not
// parse is not read.
func TestForwardSetFileTarget(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		want       kinds.Target
		err        bool
	}{
		{"service", `{"instance":"i","forwards":[{"id":"a-1","name":"a","spec":{"Name":"a","Target":"svc/api","LocalPort":1}}]}`,
			kinds.Target{Kind: kinds.Service, Name: "api"}, false},
		{"selector", `{"instance":"i","forwards":[{"id":"a-1","name":"a","spec":{"Name":"a","Target":"","Selector":{"app":"a"},"LocalPort":1}}]}`,
			kinds.Target{}, false},
		{"bad kind", `{"instance":"i","forwards":[{"id":"a-1","name":"a","spec":{"Name":"a","Target":"job/x","LocalPort":1}}]}`,
			kinds.Target{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ForwardsFile), []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			set, err := readForwardSet(dir)
			if tt.err {
				if err == nil {
					t.Fatalf("read %+v from a file with a bad target", set)
				}
				return
			}
			if err != nil || len(set.Forwards) != 1 || set.Forwards[0].Spec.Target != tt.want {
				t.Fatalf("read %+v, %v; want one forward with target %+v", set, err, tt.want)
			}
			if err := writeForwardSet(dir, set); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, ForwardsFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := `"Target":` + strconv.Quote(tt.want.String()); !strings.Contains(string(b), want) {
				t.Errorf("written file lacks %s:\n%s", want, b)
			}
		})
	}
}

// warmServer is echoServer with tunnels: it records pre-dials and lists
// the tunnels it is told are open.
type warmServer struct {
	echoServer
	mu       sync.Mutex
	open     []warmTunnel
	preDials []warmTunnel
	restored []warmTunnel
	changed  func()
}

func (w *warmServer) Tunnels() []warmTunnel {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.open)
}

func (w *warmServer) Restore(ts []warmTunnel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restored = append(w.restored, ts...)
}

func (w *warmServer) PreDial(_ context.Context, t warmTunnel) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.preDials = append(w.preDials, t)
	return nil
}

func (w *warmServer) OnTunnelsChanged(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changed = fn
}

// opened says a tunnel to t's pod opened, as the engine does.
func (w *warmServer) opened(t warmTunnel) {
	w.mu.Lock()
	w.open = append(w.open, t)
	fn := w.changed
	w.mu.Unlock()
	fn()
}

func (w *warmServer) dialed() []warmTunnel {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.preDials)
}

// TestTunnelsPersistedAndPreDialed: the pods of open tunnels are written
// to the forward set shortly after a tunnel opens, and a serving agent
// that restores the set of its own instance dials them again at once;
// one restoring no set (another instance's) dials nothing.
func TestTunnelsPersistedAndPreDialed(t *testing.T) {
	pod := warmTunnel{Context: "kpf-local", Namespace: "demo", Pod: "web-0", UID: "u-1", Labels: map[string]string{"app": "web"}, Ports: map[string]int32{"http": 8080}}
	t.Run("persisted", func(t *testing.T) {
		r := inProcessRuntime(t)
		w := &warmServer{}
		startInProcessWith(t, r, "inst-1", w)
		ctx := context.Background()
		if _, err := r.Start(ctx, spec("web", testutil.FreePort(t))); err != nil {
			t.Fatal(err)
		}
		w.opened(pod)
		testwait.For(t, 10*time.Second, 20*time.Millisecond, "the tunnel in the forward set", func() bool {
			set, err := readForwardSet(r.StateDir)
			return err == nil && len(set.Tunnels) == 1 && reflect.DeepEqual(set.Tunnels[0], pod)
		})
	})
	for _, tc := range []struct {
		name, setOf string
		want        int
	}{
		{"own instance", "inst-1", 1},
		{"another instance", "inst-0", 0},
	} {
		t.Run("restored from "+tc.name, func(t *testing.T) {
			r := inProcessRuntime(t)
			set := forwardSet{Instance: tc.setOf, Forwards: []persistedForward{{ID: "web-1", Name: "web", Spec: spec("web", testutil.FreePort(t))}}, Tunnels: []warmTunnel{pod}}
			if err := writeForwardSet(r.StateDir, set); err != nil {
				t.Fatal(err)
			}
			w := &warmServer{}
			startInProcessWith(t, r, "inst-1", w)
			if _, err := r.hello(context.Background()); err != nil { // the agent answers once it restored
				t.Fatal(err)
			}
			if tc.want == 0 {
				time.Sleep(100 * time.Millisecond)
			} else {
				testwait.For(t, 5*time.Second, 5*time.Millisecond, "the pre-dial", func() bool { return len(w.dialed()) > 0 })
			}
			if got := w.dialed(); len(got) != tc.want || (tc.want == 1 && !reflect.DeepEqual(got[0], pod)) {
				t.Errorf("pre-dials %+v, want %d of %+v", got, tc.want, pod)
			}
			w.mu.Lock()
			restored := w.restored
			w.mu.Unlock()
			if len(restored) != tc.want || (tc.want == 1 && !reflect.DeepEqual(restored[0], pod)) {
				t.Errorf("restored %+v, want %d of %+v", restored, tc.want, pod)
			}
		})
	}
}
