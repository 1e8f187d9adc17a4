//go:build linux || darwin

package kubectl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
	"golang.org/x/sys/unix"
)

// fakeKubectl is the path of testdata/fakekubectl, built by TestMain.
var fakeKubectl string

// testLogDir holds the forwards' logs; each test spec has a name of its own.
var (
	testLogDir  = filepath.Join(os.TempDir(), fmt.Sprintf("kpf-kubectl-test-%d", os.Getpid()))
	testSpecSeq atomic.Int64
	testLogPath = func(name string) string { return filepath.Join(testLogDir, name+".log") }
)

func TestMain(m *testing.M) {
	if os.Getenv("KPF_TEST_START_HELPER") != "" {
		startHelper()
		return
	}
	dir, err := os.MkdirTemp("", "fakekubectl")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeKubectl = filepath.Join(dir, "kubectl")
	build := exec.Command("go", "build", "-o", fakeKubectl, "./testdata/fakekubectl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fake kubectl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.RemoveAll(testLogDir)
	os.Exit(code)
}

// startHelper runs in a re-executed test binary: it starts a forward, prints
// its handle as JSON and exits without stopping it.
func startHelper() {
	var s runtime.Spec
	if err := json.Unmarshal([]byte(os.Getenv("KPF_TEST_START_HELPER")), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := &Runtime{Kubectl: os.Getenv("KPF_TEST_KUBECTL"), LogPath: func(string) string { return os.Getenv("KPF_TEST_LOG") },
		Workspace: os.Getenv("KPF_TEST_WORKSPACE")}
	h, err := r.Start(context.Background(), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := json.Marshal(h)
	fmt.Println(string(b))
}

func newRuntime(env ...string) *Runtime {
	return &Runtime{Kubectl: fakeKubectl, Env: env, StopGrace: time.Second, LogPath: testLogPath}
}

func testSpec(t *testing.T) runtime.Spec {
	return runtime.Spec{
		Name:         fmt.Sprintf("api%d", testSpecSeq.Add(1)),
		Target:       kinds.Target{Kind: kinds.Service, Name: "api"},
		Context:      "kind-dev",
		Namespace:    "shop",
		Address:      "127.0.0.1",
		LocalPort:    testutil.FreePort(t),
		RemotePort:   "80",
		ReadyTimeout: 10 * time.Second,
	}
}

// stopAtEnd makes sure a started forward never outlives its test.
func stopAtEnd(t *testing.T, r *Runtime, h runtime.Handle) {
	t.Cleanup(func() {
		if err := r.Stop(context.Background(), h); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
}

func dial(t *testing.T, port int) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatalf("dial forward: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestStartReadyAndStopTwice(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	s := testSpec(t)
	h, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	if h.IsZero() || h.Runtime != Name || idOf(t, h).StartTime == 0 {
		t.Fatalf("handle %+v", h)
	}
	if got := dial(t, s.LocalPort); got != "fake" {
		t.Fatalf("forward answered %q", got)
	}
	st, err := r.Inspect(context.Background(), h)
	if err != nil || !st.Alive || st.LastError != "" {
		t.Fatalf("Inspect = %+v, %v; want alive, no error", st, err)
	}
	for _, p := range []struct {
		path string
		want os.FileMode
	}{{testLogPath(s.Name), 0o600}, {filepath.Dir(testLogPath(s.Name)), 0o700}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != p.want {
			t.Errorf("%s: mode %v, want %v", p.path, fi.Mode().Perm(), p.want)
		}
	}
	for i := range 2 {
		if err := r.Stop(context.Background(), h); err != nil {
			t.Fatalf("stop #%d: %v", i+1, err)
		}
	}
	if st, _ := r.Inspect(context.Background(), h); st.Alive {
		t.Fatal("alive after stop")
	}
}

func TestStartArgv(t *testing.T) {
	t.Parallel()
	argvFile := filepath.Join(t.TempDir(), "argv")
	r := newRuntime("FAKE_KUBECTL_MODE=ready", "FAKE_KUBECTL_ARGV_FILE="+argvFile)
	s := testSpec(t)
	s.RemotePort = "http"
	s.Kubeconfig = "/tmp/some kube config"
	h, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	b, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"port-forward", "service/api", fmt.Sprintf("%d:http", s.LocalPort),
		"--context", "kind-dev", "--namespace", "shop", "--address", "127.0.0.1",
		"--kubeconfig", "/tmp/some kube config"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n got %q\nwant %q", got, want)
	}
}

func TestStartExitedBeforeReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       string // kubectl's stderr
		wantLine  string
		permanent bool
		portInUse bool
	}{
		{"service missing", `Error from server (NotFound): services "x" not found`, `Error from server (NotFound): services "x" not found`, true, false},
		{"unknown context", `error: context "nope" does not exist`, `error: context "nope" does not exist`, true, false},
		{"rbac", `Error from server (Forbidden): pods "api-0" is forbidden: User "dev" cannot create resource "pods/portforward" in API group "" in the namespace "shop"`,
			`Error from server (Forbidden): pods "api-0" is forbidden: User "dev" cannot create resource "pods/portforward" in API group "" in the namespace "shop"`, true, false},
		{"port busy", "error: unable to listen on any of the requested ports: [{18080 80}]", "error: unable to listen on any of the requested ports: [{18080 80}]", false, true},
		{"pod pending", "error: unable to forward port because pod is not running. Current status=Pending", "error: unable to forward port because pod is not running. Current status=Pending", false, false},
		{"klog then summary", "E1128 12:04:50.024754   16008 memcache.go:265] \"Unhandled Error\" err=\"connection refused\"\nThe connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
			"The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRuntime("FAKE_KUBECTL_MODE=fail", "FAKE_KUBECTL_MSG="+tc.msg)
			h, err := r.Start(context.Background(), testSpec(t))
			if err == nil {
				stopAtEnd(t, r, h)
				t.Fatal("started")
			}
			if !errors.Is(err, ErrExited) || errors.Is(err, ErrTimeout) {
				t.Fatalf("err = %v: want ErrExited, not ErrTimeout", err)
			}
			var ke *Error
			if !errors.As(err, &ke) || ke.Line != tc.wantLine {
				t.Fatalf("line = %q, want %q", ke.Line, tc.wantLine)
			}
			if !strings.Contains(err.Error(), tc.wantLine) {
				t.Errorf("message %q lacks kubectl's line", err)
			}
			if runtime.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v", runtime.IsPermanent(err), tc.permanent)
			}
			if errors.Is(err, ErrPortInUse) != tc.portInUse {
				t.Errorf("port in use = %v, want %v", errors.Is(err, ErrPortInUse), tc.portInUse)
			}
		})
	}
}

func TestStartTimeoutStopsProcess(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := newRuntime("FAKE_KUBECTL_MODE=hang", "FAKE_KUBECTL_PID_FILE="+pidFile)
	s := testSpec(t)
	s.ReadyTimeout = 300 * time.Millisecond
	// A "Forwarding from" line of an earlier run must not count as ready.
	if err := os.MkdirAll(filepath.Dir(testLogPath(s.Name)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testLogPath(s.Name), []byte("Forwarding from 127.0.0.1:1 -> 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := r.Start(context.Background(), s)
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrExited) || runtime.IsPermanent(err) {
		t.Fatalf("err = %v: want ErrTimeout only", err)
	}
	assertStopped(t, pidFile)
}

// assertStopped checks that the process whose pid is in pidFile is gone (or
// a zombie about to be reaped).
func assertStopped(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	st, err := proc.StartTime(pid)
	if err == nil && proc.Alive(proc.ID{PID: pid, StartTime: st}) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("process %d still alive", pid)
	}
}

func TestStartContextCancelledBeforeReady(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := newRuntime("FAKE_KUBECTL_MODE=hang", "FAKE_KUBECTL_PID_FILE="+pidFile)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := r.Start(ctx, testSpec(t))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	assertStopped(t, pidFile)
}

func TestDetachedSurvivesContextCancel(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	s := testSpec(t)
	ctx, cancel := context.WithCancel(context.Background())
	h, err := r.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	cancel()
	time.Sleep(100 * time.Millisecond)
	if !proc.Alive(idOf(t, h)) {
		t.Fatal("forward died with the context")
	}
	if pid := idOf(t, h).PID; true {
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			t.Errorf("session = %d (%v), want its own (%d)", sid, err, pid)
		}
	}
	if got := dial(t, s.LocalPort); got != "fake" {
		t.Fatalf("forward answered %q", got)
	}
}

func TestDetachedSurvivesParentExit(t *testing.T) {
	t.Parallel()
	s := testSpec(t)
	js, _ := json.Marshal(s)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KPF_TEST_START_HELPER="+string(js),
		"KPF_TEST_KUBECTL="+fakeKubectl, "FAKE_KUBECTL_MODE=ready", "KPF_TEST_LOG="+testLogPath(s.Name))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var h runtime.Handle
	if err := json.Unmarshal(out, &h); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	r := newRuntime()
	stopAtEnd(t, r, h)
	if !proc.Alive(idOf(t, h)) {
		t.Fatal("forward died with the kpf process that started it")
	}
	if got := dial(t, s.LocalPort); got != "fake" {
		t.Fatalf("forward answered %q", got)
	}
	if err := r.Stop(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(idOf(t, h)) {
		t.Fatal("alive after stop")
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready", "FAKE_KUBECTL_IGNORE_TERM=1")
	r.StopGrace = 200 * time.Millisecond
	h, err := r.Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	if err := r.Stop(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(idOf(t, h)) {
		t.Fatal("alive after stop")
	}
}

func TestStopLeavesOtherProcessAlone(t *testing.T) {
	t.Parallel()
	other := exec.Command("sleep", "30")
	other.SysProcAttr = proc.Detached() // a group leader, like a forward
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill()
		_ = other.Wait()
	})
	st, err := proc.StartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// The pid kpf remembered now belongs to another process.
	stale, err := NewHandle(proc.ID{PID: other.Process.Pid, StartTime: st - 1}, "api")
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime()
	for i := range 2 {
		if err := r.Stop(context.Background(), stale); err != nil {
			t.Fatalf("stop #%d: %v", i+1, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if !proc.Alive(proc.ID{PID: other.Process.Pid, StartTime: st}) {
		t.Fatal("Stop signalled a process kpf did not start")
	}
	if err := r.Stop(context.Background(), runtime.Handle{}); err != nil {
		t.Fatalf("stop of zero handle: %v", err)
	}
}

func TestInspectLastError(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready-then-error")
	s := testSpec(t)
	h, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	deadline := time.Now().Add(5 * time.Second)
	for proc.Alive(idOf(t, h)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st, err := r.Inspect(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if st.Alive || st.LastError != "error: lost connection to pod" {
		t.Fatalf("Inspect = %+v, want dead with lost connection", st)
	}
}

func TestInspectLogTail(t *testing.T) {
	t.Parallel()
	r := newRuntime()
	dir := t.TempDir()
	r.LogPath = func(name string) string { return filepath.Join(dir, name+".log") }
	tests := []struct {
		name string
		log  string
		want string
	}{
		{"missing log", "", ""},
		{"clean", StartMarker + "x\nForwarding from 127.0.0.1:8080 -> 80\nHandling connection for 8080\n", ""},
		{"lost connection", "Forwarding from 127.0.0.1:8080 -> 80\nerror: lost connection to pod\n", "error: lost connection to pod"},
		{"klog forwarding error", "Forwarding from 127.0.0.1:8080 -> 80\nE1128 12:00:00.000000 1 portforward.go:413] an error occurred forwarding 8080 -> 80: error forwarding port 80 to pod x: connection refused\nHandling connection for 8080\n",
			"E1128 12:00:00.000000 1 portforward.go:413] an error occurred forwarding 8080 -> 80: error forwarding port 80 to pod x: connection refused"},
		{"error of an earlier start is history", "error: lost connection to pod\n" + StartMarker + "x\nForwarding from 127.0.0.1:8080 -> 80\n", ""},
		{"error in the last 16 KiB only", "error: old failure\n" + strings.Repeat("Handling connection for 8080\n", TailSize/20), ""},
		{"server error", "Error from server (NotFound): pods \"api-0\" not found\n", "Error from server (NotFound): pods \"api-0\" not found"},
	}
	for i, tc := range tests {
		p := filepath.Join(dir, strconv.Itoa(i)+".log")
		if tc.log != "" {
			if err := os.WriteFile(p, []byte(tc.log), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		h, err := NewHandle(proc.ID{}, strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.Inspect(context.Background(), h)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st.Alive || st.LastError != tc.want {
			t.Errorf("%s: Inspect = %+v, want LastError %q", tc.name, st, tc.want)
		}
	}
}

func TestStartSelector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        []string
		wantTarget string
		wantErr    error
		permanent  bool
	}{
		{"first sorted running pod", []string{"FAKE_KUBECTL_PODS=web-b web-a"}, "pod/web-a", nil, false},
		{"no running pod", []string{"FAKE_KUBECTL_PODS="}, "", ErrNoPod, false},
		{"unknown context", []string{`FAKE_KUBECTL_GET_MSG=error: context "nope" does not exist`}, "", runtime.ErrPermanent, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			argvFile := filepath.Join(t.TempDir(), "argv")
			r := newRuntime(append(tc.env, "FAKE_KUBECTL_MODE=ready", "FAKE_KUBECTL_ARGV_FILE="+argvFile)...)
			s := testSpec(t)
			s.Target = kinds.Target{}
			s.Selector = map[string]string{"tier": "web", "app": "shop"}
			h, err := r.Start(context.Background(), s)
			if err == nil {
				stopAtEnd(t, r, h)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || runtime.IsPermanent(err) != tc.permanent {
					t.Fatalf("err = %v, want %v (permanent %v)", err, tc.wantErr, tc.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(argvFile)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 2 {
				t.Fatalf("kubectl runs: %q", lines)
			}
			var get, pf []string
			_ = json.Unmarshal([]byte(lines[0]), &get)
			_ = json.Unmarshal([]byte(lines[1]), &pf)
			wantGet := []string{"get", "pods", "-l", "app=shop,tier=web", "--field-selector=status.phase=Running",
				"-o", "jsonpath={.items[*].metadata.name}", "--context", "kind-dev", "--namespace", "shop"}
			if !reflect.DeepEqual(get, wantGet) {
				t.Errorf("get argv\n got %q\nwant %q", get, wantGet)
			}
			if len(pf) < 2 || pf[1] != tc.wantTarget {
				t.Errorf("port-forward argv %q, want target %s", pf, tc.wantTarget)
			}
		})
	}
}

func TestStartInvalidSpec(t *testing.T) {
	t.Parallel()
	s := testSpec(t)
	s.Context = ""
	_, err := newRuntime("FAKE_KUBECTL_MODE=ready").Start(context.Background(), s)
	if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "context") {
		t.Fatalf("err = %v, want permanent error naming context", err)
	}
}

func TestStartMissingBinaryIsPermanent(t *testing.T) {
	t.Parallel()
	r := &Runtime{Kubectl: filepath.Join(t.TempDir(), "no-kubectl"), LogPath: testLogPath}
	_, err := r.Start(context.Background(), testSpec(t))
	if !runtime.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

// TestRealKubectlUnreachable runs the real kubectl against a server that
// refuses connections: the exited-before-ready path and kubectl's message.
func TestRealKubectlUnreachable(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH")
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	const cfg = `apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts:
- {name: dead, context: {cluster: dead, user: u}}
- {name: shop, context: {cluster: dead, user: u, namespace: shop}}
current-context: dead
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{Kubectl: bin, Env: []string{"KUBECONFIG=/nonexistent"}, LogPath: testLogPath}
	s := testSpec(t)
	s.Context, s.Kubeconfig = "dead", kc
	h, err := r.Start(context.Background(), s)
	if err == nil {
		stopAtEnd(t, r, h)
		t.Fatal("real kubectl became ready against 127.0.0.1:1")
	}
	if !errors.Is(err, ErrExited) || runtime.IsPermanent(err) {
		t.Fatalf("err = %v: want ErrExited, retryable", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("message %q does not carry kubectl's reason", err)
	}
	s.Context = "nope"
	_, err = r.Start(context.Background(), s)
	if !errors.Is(err, ErrExited) || !runtime.IsPermanent(err) {
		t.Fatalf("unknown context: err = %v, want permanent", err)
	}
}

// TestWatch: the Runtime reports the exit of a forward process (here a
// kill -9 behind its back) at once, also to a Runtime that did not start it
// (another kpf), and stops reporting when its context ends.
func TestWatch(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	h, err := r.Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	for _, watcher := range []*Runtime{r, newRuntime()} {
		ctx, cancel := context.WithCancel(context.Background())
		events := watcher.Watch(ctx, []runtime.Handle{h})
		if watcher == r {
			if err := syscall.Kill(idOf(t, h).PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case got := <-events:
			if got.Handle != h || got.Kind != runtime.EventExited {
				t.Fatalf("event %+v, want the exit of %v", got, h)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no exit event within 5 s of the kill")
		}
		cancel()
		for range events { // closed once ctx ended
		}
	}
}

// idOf is the process a kubectl handle names.
func idOf(t *testing.T, h runtime.Handle) proc.ID {
	t.Helper()
	d, err := decodeHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// TestLogRotation: a log past MaxLogSize moves to NAME.log.1 when the next
// process starts, and the new process writes a fresh log.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	s := testSpec(t)
	if err := os.MkdirAll(filepath.Dir(testLogPath(s.Name)), 0o700); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("E1128 an old error line\n"), MaxLogSize/24+10)
	if err := os.WriteFile(testLogPath(s.Name), old, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	h, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	rotated, err := os.ReadFile(testLogPath(s.Name) + ".1")
	if err != nil || !bytes.Equal(rotated, old) {
		t.Fatalf("rotated log: %d bytes, %v; want the old %d bytes", len(rotated), err, len(old))
	}
	fresh, err := os.ReadFile(testLogPath(s.Name))
	if err != nil || len(fresh) > 4096 || !strings.Contains(string(fresh), "Forwarding from") {
		t.Fatalf("new log: %d bytes, %v", len(fresh), err)
	}
	if fi, err := os.Stat(testLogPath(s.Name) + ".1"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rotated log mode: %v, %v", fi, err)
	}
}

// TestStartScrubsSensitiveValues: kubectl's error naming a sensitive
// target and namespace reaches kpf without them (message and line), with
// its sentinels; the line kpf writes to the log shows neither.
func TestStartScrubsSensitiveValues(t *testing.T) {
	t.Parallel()
	const secret = "zq7x3kv-kubectl"
	msg := `Error from server (NotFound): services "svc-` + secret + `" not found in namespace ns-` + secret
	r := newRuntime("FAKE_KUBECTL_MODE=fail", "FAKE_KUBECTL_MSG="+msg)
	s := testSpec(t)
	s.Target, s.Namespace = kinds.Target{Kind: kinds.Service, Name: "svc-" + secret}, "ns-"+secret
	s.Sensitive = []string{"Target", "Namespace"}
	h, err := r.Start(context.Background(), s)
	if err == nil {
		stopAtEnd(t, r, h)
		t.Fatal("started")
	}
	var ke *Error
	if !errors.As(err, &ke) || strings.Contains(err.Error()+ke.Line, secret) || !strings.Contains(ke.Line, redact.Placeholder) {
		t.Errorf("error shows the value or lost its line: %q (line %q)", err, ke.Line)
	}
	if !errors.Is(err, ErrExited) || !runtime.IsPermanent(err) {
		t.Errorf("error lost its sentinels: %v", err)
	}
	log, rerr := os.ReadFile(r.LogPath(s.Name))
	if rerr != nil {
		t.Fatal(rerr)
	}
	start, _, _ := strings.Cut(string(log), "\n")
	if !strings.HasPrefix(start, StartMarker) || strings.Contains(start, secret) {
		t.Errorf("kpf's line in the log: %q", start)
	}
}

// TestUndecodableHandleIsPermanent: a handle whose data does not decode
// (a damaged state file) is a permanent error of Stop and Inspect, with
// the hint that drops the record; no retry would repair it.
func TestUndecodableHandleIsPermanent(t *testing.T) {
	t.Parallel()
	r := newRuntime()
	ctx := t.Context()
	for _, data := range []runtime.Data{"", "{", `"pid"`, `[1,2]`, `{"pid": "one"}`} {
		h := runtime.Handle{Runtime: Name, ID: "4242", Data: data}
		for op, call := range map[string]func() error{
			"stop":    func() error { return r.Stop(ctx, h) },
			"inspect": func() error { _, err := r.Inspect(ctx, h); return err },
		} {
			err := call()
			if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "kpf destroy --forget") {
				t.Errorf("%s with data %q: err = %v, want permanent with the --forget hint", op, data, err)
			}
		}
	}
}
