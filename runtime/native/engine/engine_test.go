package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

var webLabels = map[string]string{"app": "web"}

func webPod(name string) *corev1.Pod {
	return readyPod("demo", name, webLabels, corev1.ContainerPort{Name: "http", ContainerPort: 8080})
}

// banner connects to f and returns the first line the pod side sent, or
// the error (io.EOF: the forward closed the connection).
func banner(t testing.TB, f *Forward) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// bannerResult is what banner returned.
type bannerResult struct {
	line string
	err  error
}

// bannerLater runs banner in the background: for a connection that waits.
func bannerLater(t testing.TB, f *Forward) <-chan bannerResult {
	done := make(chan bannerResult, 1)
	go func() {
		line, err := banner(t, f)
		done <- bannerResult{line, err}
	}()
	return done
}

func mustBanner(t *testing.T, f *Forward) string {
	t.Helper()
	got, err := banner(t, f)
	if err != nil {
		t.Fatalf("reading through %s: %v (status %+v)", f.Name(), err, f.Status())
	}
	return got
}

func TestForwardReachesFirstReadyPodAndCountsBytes(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-b"), webPod("web-a"), notReady(webPod("web-0")))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "web-a\n" {
		t.Fatalf("banner %q, %v; want web-a (first Ready by name)", line, err)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if echo, err := br.ReadString('\n'); err != nil || echo != "ping\n" {
		t.Fatalf("echo %q, %v", echo, err)
	}
	c.Close()
	eventually(t, "the connection to end", func() bool { return f.Status().Active == 0 })
	s := f.Status()
	if s.Total != 1 || s.BytesIn != int64(len("web-a\nping\n")) || s.BytesOut != int64(len("ping\n")) || s.Pod != "web-a" {
		t.Errorf("status %+v", s)
	}
	if got, want := env.e.Carried(), s.BytesIn+s.BytesOut; got != want {
		t.Errorf("Carried() = %d, want %d (both ways)", got, want)
	}
	if !s.Listening {
		t.Errorf("not listening")
	}
	eventually(t, "a passing check after the first connection", func() bool { return f.Status().Health == HealthHealthy })
	// A second connection shares the tunnel.
	if got := mustBanner(t, f); got != "web-a" {
		t.Errorf("second connection reached %s", got)
	}
	if n := env.dialer.dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1 shared tunnel", n)
	}
	evs, _ := f.Events(0)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, string(ev.Kind))
	}
	want := "listening tunnel-open pod-switch conn-opened conn-closed"
	if got := strings.Join(kinds, " "); !strings.HasPrefix(got, want) {
		t.Errorf("events %q, want them to start with %q", got, want)
	}
}

func TestForwardsShareTunnelPerPodAndSourcePerSelector(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f1 := env.start(Config{Name: "one", Selector: webLabels, RemotePort: "http"})
	f2 := env.start(Config{Name: "two", Selector: webLabels, RemotePort: "8080"})
	mustBanner(t, f1)
	mustBanner(t, f2)
	if n := env.dialer.dials.Load(); n != 1 {
		t.Errorf("%d dials for two forwards to one pod, want 1", n)
	}
	env.e.mu.Lock()
	n := len(env.e.sources)
	env.e.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d pod sources, want 1 shared", n)
	}
	_ = f1.Stop()
	if got := mustBanner(t, f2); got != "web-a" {
		t.Errorf("after the other forward stopped: %s", got)
	}
	_ = f2.Stop()
	env.e.mu.Lock()
	n = len(env.e.sources)
	env.e.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pod sources after every forward stopped, want 0", n)
	}
}

func TestConnectionWaitsForReadyPod(t *testing.T) {
	env := newTestEnv(t, Options{PodWaitTimeout: 10 * time.Second}, notReady(webPod("web-a")))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if s := f.Status(); s.Health != HealthUnhealthy || !s.Listening {
		t.Errorf("with no Ready pod: %+v, want listening and unhealthy", s)
	}
	got := make(chan string, 1)
	go func() {
		line, _ := banner(t, f)
		got <- line
	}()
	eventually(t, "the connection to be accepted", func() bool { return f.Status().Active == 1 })
	env.updatePod(webPod("web-a"))
	select {
	case line := <-got:
		if line != "web-a" {
			t.Fatalf("got %q, want web-a once Ready", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not served once the pod was Ready")
	}
}

func TestConnectionWithoutReadyPodClosesAfterTimeout(t *testing.T) {
	env := newTestEnv(t, Options{PodWaitTimeout: 50 * time.Millisecond})
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if _, err := banner(t, f); !errors.Is(err, io.EOF) {
		t.Fatalf("read %v, want EOF (closed)", err)
	}
	s := f.Status()
	if !strings.Contains(s.LastError, runtime.ErrNoPod.Error()) || !s.Listening {
		t.Errorf("status %+v, want a no-pod last error and the listener kept", s)
	}
	env.createPod(webPod("web-new"))
	eventually(t, "the new pod to serve", func() bool {
		line, _ := banner(t, f)
		return line == "web-new"
	})
}

func TestDeletedPodEndsItsConnectionsAndNewOnesMove(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "web-a\n" {
		t.Fatalf("first connection reached %q", line)
	}
	env.deletePod("demo", "web-a")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadString('\n')
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("in-flight connection to the deleted pod: %v, want it ended", err)
	}
	if got := mustBanner(t, f); got != "web-b" {
		t.Errorf("new connection reached %s, want web-b", got)
	}
	s := f.Status()
	if s.Reconnects != 1 || s.Pod != "web-b" {
		t.Errorf("status %+v, want 1 reconnect, pod web-b", s)
	}
}

func TestNotReadyPodClosesTunnelTerminatingKeepsIt(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	mustBanner(t, f)
	// Terminating but still Ready: no new connections, the tunnel stays.
	term := webPod("web-a")
	now := metav1.Now()
	term.DeletionTimestamp = &now
	env.updatePod(term)
	eventually(t, "new connections to avoid the terminating pod", func() bool {
		line, _ := banner(t, f)
		return line == "web-b"
	})
	if n := env.dialer.openConns(); n != 2 {
		t.Errorf("%d open tunnels, want 2 (the terminating pod's kept)", n)
	}
	env.updatePod(notReady(webPod("web-b")))
	eventually(t, "web-b's tunnel to close", func() bool { return env.dialer.openConns() == 1 })
}

func TestErrorStreamEndsOnlyThatConnection(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	bad := env.start(Config{Name: "bad", Selector: webLabels, RemotePort: "9999"})
	good := env.start(Config{Name: "good", Selector: webLabels, RemotePort: "8080"})
	mustBanner(t, good)
	if _, err := banner(t, bad); err == nil {
		t.Fatal("a connection to a refused port was served")
	}
	eventually(t, "the error to be recorded", func() bool { return bad.Status().LastError != "" })
	if s := bad.Status(); !strings.Contains(s.LastError, "connection refused") || !s.Listening {
		t.Errorf("status %+v", s)
	}
	if got := mustBanner(t, good); got != "web-a" {
		t.Errorf("after the other stream's error: %s", got)
	}
	if n, open := env.dialer.dials.Load(), env.dialer.openConns(); n != 1 || open != 1 {
		t.Errorf("%d dials, %d open: the tunnel must survive a stream error", n, open)
	}
}

func TestStreamCreationFailureRetriesOnFreshTunnel(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	mustBanner(t, f)
	env.dialer.failCreate.Store(1)
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("got %s", got)
	}
	if n, open := env.dialer.dials.Load(), env.dialer.openConns(); n != 2 || open != 1 {
		t.Errorf("%d dials, %d open; want the broken tunnel closed and one fresh", n, open)
	}
}

// A connection whose stream creation is in flight when its pod goes away
// (no reply comes, and closing the tunnel does not wake the creation) is
// not stuck: it is served by another Ready pod at once.
func TestStreamCreationCutShortByPodGoneMovesOn(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	// No health checks: one could take the one stream creation that hangs.
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("first connection reached %s", got)
	}
	env.dialer.hangCreate.Store(1)
	got := make(chan string, 1)
	go func() {
		line, err := banner(t, f)
		if err != nil {
			line = err.Error()
		}
		got <- line
	}()
	eventually(t, "the stream creation to hang", func() bool { return env.dialer.hanging.Load() == 1 })
	env.deletePod("demo", "web-a")
	select {
	case line := <-got:
		if line != "web-b" {
			t.Errorf("the connection got %q, want web-b", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection hangs with its pod gone")
	}
}

// A tunnel that answers no stream creation within DialTimeout is taken for
// dead: the connection is served on a fresh one.
func TestUnansweredStreamCreationRetriesOnFreshTunnel(t *testing.T) {
	env := newTestEnv(t, Options{DialTimeout: 200 * time.Millisecond}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	mustBanner(t, f)
	env.dialer.hangCreate.Store(1)
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("got %s", got)
	}
	if n, open := env.dialer.dials.Load(), env.dialer.openConns(); n != 2 || open != 1 {
		t.Errorf("%d dials, %d open; want the silent tunnel closed and one fresh", n, open)
	}
}

// lineHandler answers "POD: LINE" to the first line a client sends; a pod
// for which refuse says so refuses the connection as a kubelet does when
// nothing listens on the port yet.
func lineHandler(refuse func(pod string) bool) podHandler {
	return func(pod string, port int32, data io.ReadWriteCloser) string {
		defer data.Close()
		if refuse(pod) {
			return fmt.Sprintf("error forwarding port %d to pod %s: connection refused", port, pod)
		}
		line, err := bufio.NewReader(data).ReadString('\n')
		if err != nil {
			return ""
		}
		_, _ = io.WriteString(data, pod+": "+line)
		return ""
	}
}

// say sends line through f on a new connection and returns the answer.
func say(t *testing.T, f *Forward, line string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(got), err
}

// A Ready pod that refuses a connection before answering (its port does
// not accept yet, or it just went away) does not fail the connection:
// what the client sent goes to another Ready pod.
func TestRefusedConnectionIsReplayedToAnotherPod(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	env.dialer.handler = lineHandler(func(pod string) bool { return pod == "web-a" })
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	for i := range 3 {
		got, err := say(t, f, fmt.Sprintf("hello %d", i))
		if want := fmt.Sprintf("web-b: hello %d", i); err != nil || got != want {
			t.Fatalf("connection %d: %q, %v; want %q", i, got, err, want)
		}
	}
	evs, _ := f.Events(0)
	retried := false
	for _, ev := range evs {
		retried = retried || (ev.Kind == EventConnRetry && ev.Pod == "web-a")
	}
	if !retried {
		t.Errorf("no conn-retry event for web-a in %+v", evs)
	}
}

// The one pod refuses until its port accepts: the connection waits it out.
func TestRefusedConnectionIsReplayedOnceThePortAccepts(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	var refusals atomic.Int64
	env.dialer.handler = lineHandler(func(string) bool { return refusals.Add(1) <= 2 })
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if got, err := say(t, f, "hello"); err != nil || got != "web-a: hello" {
		t.Fatalf("%q, %v; want the request replayed once web-a accepts", got, err)
	}
	if s := f.Status(); s.LastError != "" {
		t.Errorf("a connection served in the end left last error %q", s.LastError)
	}
}

// A pod that refuses for longer than RefusedRetry fails the connection.
func TestRefusedConnectionGivesUp(t *testing.T) {
	env := newTestEnv(t, Options{RefusedRetry: 200 * time.Millisecond}, webPod("web-a"))
	env.dialer.handler = lineHandler(func(string) bool { return true })
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if got, err := say(t, f, "hello"); err == nil {
		t.Fatalf("a connection every pod refuses got %q", got)
	}
	eventually(t, "the refusal recorded", func() bool { return strings.Contains(f.Status().LastError, "connection refused") })
}

// A pod that cannot be dialed (here: it was deleted between the choice and
// the dial, and the API server said so first) reached nothing: the
// connection goes to another Ready pod, and that pod is not dialed again.
func TestUndialablePodSendsConnectionToAnother(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	env.dialer.failDialsTo("web-a", apierrors.NewNotFound(corev1.Resource("pods"), "web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	for i := range 3 {
		if got, err := banner(t, f); err != nil || got != "web-b" {
			t.Fatalf("connection %d reached %q, %v; want web-b", i, got, err)
		}
	}
	if n := env.dialer.dialsTo("web-a"); n != 1 {
		t.Errorf("web-a dialed %d times, want once (then web-b's open tunnel is preferred)", n)
	}
	if s := f.Status(); s.LastError != "" {
		t.Errorf("connections served in the end left last error %q", s.LastError)
	}
	evs, _ := f.Events(0)
	if !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Kind == EventConnRetry && ev.Pod == "web-a" }) {
		t.Errorf("no conn-retry event for web-a in %+v", evs)
	}
}

// The only pod cannot be dialed because it is gone; its replacement (same
// name, another UID, as a statefulset's) turns Ready while the connection
// waits: the connection is served by it.
func TestUndialablePodWaitsForItsReplacement(t *testing.T) {
	env := newTestEnv(t, Options{RefusedRetry: 10 * time.Second}, webPod("web-0"))
	env.dialer.failDialsTo("web-0", apierrors.NewNotFound(corev1.Resource("pods"), "web-0"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	done := bannerLater(t, f)
	eventually(t, "the dial to web-0 to fail", func() bool { return env.dialer.dialsTo("web-0") == 1 })
	env.deletePod("demo", "web-0")
	env.dialer.failDialsTo("web-0", nil)
	next := webPod("web-0")
	next.UID = "uid-web-0-2"
	env.createPod(next)
	r := <-done
	if r.err != nil || r.line != "web-0" {
		t.Fatalf("the waiting connection got %q, %v; want web-0's replacement", r.line, r.err)
	}
	if n := env.dialer.dialsTo("web-0"); n != 2 {
		t.Errorf("web-0 dialed %d times, want 2 (the deleted pod, its replacement)", n)
	}
}

// A pod deleted while its tunnel is being dialed: the connection that
// arrives for it is closed at once (not left open, uncounted), and the
// connection waiting for it goes to another Ready pod.
func TestPodDeletedWhileBeingDialed(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	release := env.dialer.holdDialsTo("web-a")
	defer release()
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	done := bannerLater(t, f)
	eventually(t, "the dial to web-a to start", func() bool { return env.dialer.dialsTo("web-a") == 1 })
	env.deletePod("demo", "web-a")
	eventually(t, "web-a's tunnel to leave the pool", func() bool {
		env.e.mu.Lock()
		defer env.e.mu.Unlock()
		return len(env.e.tunnels) == 0
	})
	release()
	if r := <-done; r.err != nil || r.line != "web-b" {
		t.Fatalf("the connection got %q, %v; want web-b", r.line, r.err)
	}
	eventually(t, "web-a's late connection to be closed", func() bool { return env.dialer.openConns() == 1 })
	if n := env.e.OpenTunnels(); n != 1 {
		t.Errorf("%d tunnels counted open, want 1 (web-b's)", n)
	}
}

// A dial the API server forbids fails the same way on every pod: the
// connection fails at once, without trying the others.
func TestForbiddenDialFailsTheConnectionAtOnce(t *testing.T) {
	env := newTestEnv(t, Options{RefusedRetry: 10 * time.Second}, webPod("web-a"), webPod("web-b"))
	forbidden := apierrors.NewForbidden(corev1.Resource("pods/portforward"), "web-a", errors.New("RBAC"))
	env.dialer.failDialsTo("web-a", forbidden)
	env.dialer.failDialsTo("web-b", forbidden)
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	start := time.Now()
	if got, err := banner(t, f); err == nil {
		t.Fatalf("served %q through forbidden dials", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the connection failed after %s: it waited for the retries to end", took)
	}
	if n := env.dialer.dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
	eventually(t, "the error", func() bool { return strings.Contains(f.Status().LastError, "forbidden") })
}

func TestFailedDialBacksOffAndConnectionFails(t *testing.T) {
	env := newTestEnv(t, Options{BackoffInitial: time.Millisecond, RefusedRetry: 100 * time.Millisecond}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	env.dialer.failDial.Store(1)
	if _, err := banner(t, f); err == nil {
		t.Fatal("served through a failed dial")
	}
	eventually(t, "the error", func() bool { return strings.Contains(f.Status().LastError, "dial refused") })
	env.clock.Add(time.Second) // past the backoff
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("got %s", got)
	}
	if s := f.Status(); !s.Listening {
		t.Error("the listener closed")
	}
}

func TestBackoffGrowsNeverStopsAndResets(t *testing.T) {
	env := newTestEnv(t, Options{BackoffInitial: 100 * time.Millisecond, BackoffMax: time.Second}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	var prev time.Duration
	for i := range 20 {
		d := f.dialFailed("uid-web-a")
		if d <= 0 || d > 1200*time.Millisecond {
			t.Fatalf("delay %d = %s, want within (0, max+20%%]", i, d)
		}
		if i < 3 && d < prev {
			t.Errorf("delay %d = %s shrank from %s", i, d, prev)
		}
		prev = d
		if got := f.nextDial["uid-web-a"].Sub(env.clock.Now()); got != d {
			t.Errorf("next dial in %s, want %s", got, d)
		}
		if got := f.nextDial["uid-web-b"]; !got.IsZero() {
			t.Errorf("web-b's dials wait until %s for web-a's failures", got)
		}
	}
	if prev < 800*time.Millisecond {
		t.Errorf("after 20 failures the delay is %s, want near the 1 s cap", prev)
	}
	f.dialSucceeded()
	if d := f.dialFailed("uid-web-a"); d > 120*time.Millisecond {
		t.Errorf("after a success the delay is %s, want the initial 100 ms ±20%%", d)
	}
}

// TestIdleTunnelCloses also checks the agent's memory hooks: TunnelClosed
// for the tunnel, ConnClosed for each connection that ended.
func TestIdleTunnelCloses(t *testing.T) {
	closed := make(chan int, 10)
	var connsClosed atomic.Int64
	env := newTestEnv(t, Options{IdleTimeout: 20 * time.Millisecond, TunnelClosed: func(open int) { closed <- open },
		ConnClosed: func() { connsClosed.Add(1) }}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	mustBanner(t, f)
	eventually(t, "the idle tunnel to close", func() bool { return env.dialer.openConns() == 0 })
	env.e.mu.Lock()
	open := env.e.open
	env.e.mu.Unlock()
	if open != 0 {
		t.Errorf("engine counts %d open tunnels", open)
	}
	select {
	case n := <-closed:
		if n != 0 {
			t.Errorf("TunnelClosed said %d still open, want 0", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TunnelClosed was not called for the idle tunnel")
	}
	mustBanner(t, f)
	if s := f.Status(); s.Reconnects != 0 {
		t.Errorf("an idle close counted as %d reconnects", s.Reconnects)
	}
	eventually(t, "ConnClosed for both connections", func() bool { return connsClosed.Load() == 2 })
}

func TestStopClosesListenerAndConnections(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	addr := f.Addr().String()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("connection still open after Stop")
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
		t.Error("listener still accepting after Stop")
	}
	if s := f.Status(); s.Listening {
		t.Error("status says listening after Stop")
	}
}

func TestPortInUse(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = env.e.Start(context.Background(), env.c, Config{Name: "x", Namespace: "demo", Selector: webLabels, RemotePort: "http",
		Address: "127.0.0.1", LocalPort: ln.Addr().(*net.TCPAddr).Port})
	if !errors.Is(err, runtime.ErrPortInUse) {
		t.Fatalf("Start on a taken port: %v, want ErrPortInUse", err)
	}
	env.e.mu.Lock()
	n := len(env.e.sources)
	env.e.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pod sources left after a failed start", n)
	}
}

func TestListForbiddenIsPermanent(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	_, err := env.e.Start(context.Background(), env.c, Config{Name: "x", Namespace: "demo", Selector: webLabels, RemotePort: "http", Address: "127.0.0.1"})
	if !runtime.IsPermanent(err) {
		t.Fatalf("got %v, want permanent", err)
	}
}

func TestWatchForbiddenFallsBackToListing(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.kube.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no watch"))
	})
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("got %s", got)
	}
	eventually(t, "list-only mode", func() bool {
		f.src.mu.Lock()
		defer f.src.mu.Unlock()
		return f.src.listOnly
	})
	env.deletePod("demo", "web-a")
	env.createPod(webPod("web-b"))
	if got := mustBanner(t, f); got != "web-b" {
		t.Errorf("after a change without a watch: %s, want web-b", got)
	}
}

func TestPodTargetWithListForbiddenReadsThePod(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no list"))
	})
	f := env.start(Config{Target: tgt("pod/web-a"), RemotePort: "http"})
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("got %s", got)
	}
}

func TestHealthCheckFailureClosesTunnelAndTurnsUnhealthy(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	healthy := make(chan bool, 1)
	healthy <- true
	env.dialer.handler = func(pod string, port int32, data io.ReadWriteCloser) string {
		defer data.Close()
		req, err := readRequestLine(data)
		if err != nil {
			return ""
		}
		ok := <-healthy
		healthy <- ok
		status := "200 OK"
		if !ok || strings.Contains(req, "/fail") {
			status = "503 Service Unavailable"
		}
		_, _ = io.WriteString(data, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return ""
	}
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{
		Kind: HealthHTTP, HTTPPath: "/healthz", Interval: 10 * time.Millisecond, Timeout: time.Second, FailureThreshold: 2,
	}})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
	_, _ = io.ReadAll(c)
	c.Close()
	eventually(t, "a passing check", func() bool {
		evs, _ := f.Events(0)
		for _, ev := range evs {
			if ev.Kind == EventHealth && ev.Message == HealthHealthy {
				return true
			}
		}
		return false
	})
	<-healthy
	healthy <- false
	eventually(t, "unhealthy", func() bool { return f.Status().Health == HealthUnhealthy })
	if s := f.Status(); !strings.Contains(s.HealthError, "503") {
		t.Errorf("health error %q", s.HealthError)
	}
	// The pod answered: the tunnel works and stays for its connections.
	if n, open := env.dialer.dials.Load(), env.dialer.openConns(); n != 1 || open != 1 {
		t.Errorf("%d dials, %d open: a check the pod answered must keep the tunnel", n, open)
	}
}

func TestConnectionAsksForBothStreamsAtOnce(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.dialer.replyDelay = 50 * time.Millisecond
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("banner %q", got)
	}
	// The kubelet pairs a connection's error and data streams by request
	// id in either order: both creations wait for their replies together,
	// one round trip to the node instead of two.
	if n := env.dialer.maxCreating.Load(); n != 2 {
		t.Errorf("at most %d stream creations were in progress at once, want the connection's 2", n)
	}
}

func TestStartingPodOfAForwardInUseIsPreDialed(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	mustBanner(t, f) // web-a's tunnel is open: the forward is in use
	env.waitWatching()
	env.createPod(notReady(webPod("web-b"))) // runs, waits for its readiness probe
	eventually(t, "a tunnel to the starting pod", func() bool { return env.dialer.dials.Load() == 2 })
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("a pod that is not Ready got a connection (%q)", got)
	}
	// web-b turns Ready and web-a goes: the next connection reaches web-b
	// through the tunnel dialed while it started.
	env.updatePod(webPod("web-b"))
	env.deletePod("demo", "web-a")
	eventually(t, "connections to reach web-b", func() bool { got, _ := banner(t, f); return got == "web-b" })
	if n := env.dialer.dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2: web-b's first connection should use the pre-dialed tunnel", n)
	}
}

func TestStartingPodOfAnIdleForwardIsNotDialed(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	env.waitWatching()
	env.createPod(notReady(webPod("web-b")))
	env.updatePod(webPod("web-b"))
	time.Sleep(100 * time.Millisecond)
	if n := env.dialer.dials.Load(); n != 0 {
		t.Errorf("%d dials for a forward nobody connected to, want 0", n)
	}
}

func TestForwardsToOnePodPortShareHealthChecks(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	// Every stream is a health check, answered at once: a check takes
	// about nothing, so forwards that did not share would each check
	// every interval. (A TCP check through the banner handler lasts its
	// timeout, tcpGrace at most: unshared checks then came too seldom
	// for the limit below to tell them from shared ones.)
	var streams atomic.Int64
	env.dialer.handler = func(pod string, port int32, data io.ReadWriteCloser) string {
		streams.Add(1)
		defer data.Close()
		if _, err := readRequestLine(data); err != nil {
			return ""
		}
		_, _ = io.WriteString(data, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return ""
	}
	const forwards, interval, window = 5, 40 * time.Millisecond, 800 * time.Millisecond
	// Checked while idle, as a forward with a health block in its spec
	// is: the checks open the shared tunnel and keep it. (Without
	// WhileIdle the checks run only while a tunnel is open, so one that
	// timed out on a loaded machine closed the shared tunnel, ended the
	// other forwards' loops, and they read idle, by design, never healthy:
	// TestUncheckedIdleForwardSaysIdle holds that mode.) The timeout is
	// far above what a check takes here.
	health := HealthConfig{Kind: HealthHTTP, HTTPPath: "/healthz", Interval: interval, Timeout: time.Second, WhileIdle: true}
	var fs []*Forward
	for i := range forwards {
		fs = append(fs, env.start(Config{Name: fmt.Sprintf("f%d", i), Selector: webLabels, RemotePort: "http", Health: health}))
	}
	// Healthy from the shared checks (polled: on a loaded machine a check
	// may come later than its interval plus timeout, and the verdict then
	// lapses for a moment).
	for _, f := range fs {
		eventually(t, f.Name()+" healthy from the shared checks", func() bool { return f.Status().Health == HealthHealthy })
	}
	before := streams.Load()
	time.Sleep(window)
	checks := streams.Load() - before
	// Unshared, each forward checks every interval: forwards×window/interval
	// (100). Shared: about window/interval (20) between them all.
	if limit := int64(2*window/interval) + 5; checks > limit || checks < 3 {
		t.Errorf("%d health-check streams in %s for %d forwards checking every %s; want 3..%d (one check per interval, shared)", checks, window, forwards, interval, limit)
	}
}

func readRequestLine(r io.Reader) (string, error) {
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			return line, err
		}
	}
}

func TestClockJumped(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := func(wall, mono time.Duration) clockSample { return clockSample{wall: t0.Add(wall), mono: mono} }
	for _, tt := range []struct {
		name      string
		prev, now clockSample
		want      bool
	}{
		{"steady", s(0, 0), s(5*time.Second, 5*time.Second), false},
		{"small drift", s(0, 0), s(7*time.Second, 5*time.Second), false},
		{"slept", s(0, 0), s(time.Hour, 5*time.Second), true},
		{"clock set back", s(0, 0), s(-time.Minute, 5*time.Second), true},
	} {
		if got := clockJumped(tt.prev, tt.now, 3*time.Second); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClockJumpClosesEveryTunnel(t *testing.T) {
	env := newTestEnv(t, Options{ClockCheckInterval: 5 * time.Millisecond}, webPod("web-a"))
	jump := make(chan struct{})
	var mono time.Duration
	var samples atomic.Int64
	wall := time.Now()
	env.e.sample = func() clockSample {
		samples.Add(1)
		mono += time.Millisecond
		select {
		case <-jump:
			wall = wall.Add(time.Hour)
			jump = nil
		default:
		}
		return clockSample{wall: wall.Add(mono), mono: mono}
	}
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	mustBanner(t, f)
	if env.dialer.openConns() != 1 {
		t.Fatal("no tunnel")
	}
	// The watcher's first sample must come before the jump, or the jump is
	// its baseline.
	eventually(t, "the clock watcher to sample", func() bool { return samples.Load() >= 2 })
	close(jump)
	eventually(t, "the tunnel to close after the jump", func() bool { return env.dialer.openConns() == 0 })
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("after the jump: %s", got)
	}
	if s := f.Status(); s.Reconnects != 1 {
		t.Errorf("reconnects %d, want 1", s.Reconnects)
	}
}

func TestEventRing(t *testing.T) {
	l := eventLog{max: 3}
	_, ch := l.since(0)
	for i := range 5 {
		l.add(Event{Kind: EventError, Message: string(rune('a' + i))})
	}
	select {
	case <-ch:
	default:
		t.Error("a follower was not woken")
	}
	evs, _ := l.since(0)
	if len(evs) != 3 || evs[0].Seq != 3 || evs[2].Seq != 5 || evs[2].Message != "e" {
		t.Fatalf("events %+v, want seq 3..5", evs)
	}
	if evs, _ := l.since(4); len(evs) != 1 || evs[0].Seq != 5 {
		t.Errorf("since 4: %+v", evs)
	}
}

func TestStartOnClosedEngine(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	env.e.Close()
	if f.Status().Listening {
		t.Error("a forward still listens after Close")
	}
	if _, err := env.e.Start(context.Background(), env.c, Config{Name: "y", Namespace: "demo", Selector: webLabels, RemotePort: "http", Address: "127.0.0.1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestHalfCloseStillReadsTheAnswer(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "last words\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(c)
	if err != nil || string(all) != "web-a\nlast words\n" {
		t.Fatalf("after a half-close read %q, %v; want the banner and the echo, then EOF", all, err)
	}
}

func TestSilentPodAfterClientEOFEndsConnection(t *testing.T) {
	env := newTestEnv(t, Options{HalfCloseTimeout: 30 * time.Millisecond}, webPod("web-a"))
	block := make(chan struct{})
	defer close(block)
	env.dialer.handler = func(pod string, port int32, data io.ReadWriteCloser) string {
		_, _ = io.WriteString(data, pod+"\n")
		<-block // like kwok: never closes its side
		return ""
	}
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	mustBanner(t, f) // reads a line, then closes
	// Active drops at the client's EOF; the connection itself ends (its
	// conn-closed event) once the pod stayed silent for HalfCloseTimeout.
	eventually(t, "the connection to end", func() bool {
		evs, _ := f.Events(0)
		return slices.ContainsFunc(evs, func(ev Event) bool { return ev.Kind == EventConnClosed })
	})
}

func TestDeletedPodDrainsInFlightConnections(t *testing.T) {
	env := newTestEnv(t, Options{DrainTimeout: time.Minute}, webPod("web-a"), webPod("web-b"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "web-a\n" {
		t.Fatalf("reached %q", line)
	}
	env.deletePod("demo", "web-a")
	eventually(t, "new connections to go to web-b", func() bool {
		line, _ := banner(t, f)
		return line == "web-b"
	})
	// The in-flight connection to the deleted pod still gets its answer…
	if _, err := io.WriteString(c, "still there?\n"); err != nil {
		t.Fatal(err)
	}
	if echo, err := br.ReadString('\n'); err != nil || echo != "still there?\n" {
		t.Fatalf("in-flight connection during the drain: %q, %v", echo, err)
	}
	// …and the drained tunnel closes as soon as it ends, long before the deadline.
	c.Close()
	eventually(t, "the drained tunnel to close", func() bool { return env.dialer.openConns() == 1 })
}

// TestPodGoneLeavesStatus: a forward reports the pod its last connection
// went to only while that pod exists (kpf status's POD column after a
// scale to 0), and its pod-switch events name each pod once.
func TestPodGoneLeavesStatus(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"), webPod("web-b"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	if got := mustBanner(t, f); got != "web-a" {
		t.Fatalf("reached %s, want web-a", got)
	}
	if p := f.Status().Pod; p != "web-a" {
		t.Fatalf("pod %q, want web-a", p)
	}
	env.deletePod("demo", "web-a")
	eventually(t, "the deleted pod to leave the status", func() bool { return f.Status().Pod == "" })
	if got := mustBanner(t, f); got != "web-b" {
		t.Fatalf("reached %s, want web-b", got)
	}
	env.deletePod("demo", "web-b")
	eventually(t, "the last pod to leave the status", func() bool { return f.Status().Pod == "" })

	evs, _ := f.Events(0)
	var switches []string
	for _, ev := range evs {
		if ev.Kind == EventPodSwitch {
			switches = append(switches, strings.TrimSpace(ev.Pod+" "+ev.Message))
		}
	}
	if got, want := strings.Join(switches, "; "), "web-a; web-b"; got != want {
		t.Errorf("pod-switch events %q, want %q (each pod named once)", got, want)
	}
}

// TestClosedClientLeavesActive: a connection whose client closed is not
// counted as active while kpf waits for the pod's last bytes (the wait is
// an hour here: only the count can have moved).
func TestClosedClientLeavesActive(t *testing.T) {
	env := newTestEnv(t, Options{HalfCloseTimeout: time.Hour}, webPod("web-a"))
	block := make(chan struct{})
	defer close(block)
	env.dialer.handler = func(pod string, port int32, data io.ReadWriteCloser) string {
		_, _ = io.WriteString(data, pod+"\n")
		<-block // like kwok: never closes its side
		return ""
	}
	f := env.start(Config{Selector: webLabels, RemotePort: "http"})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "web-a\n" {
		t.Fatalf("banner %q, %v", line, err)
	}
	if a := f.Status().Active; a != 1 {
		t.Fatalf("active %d with the client connected, want 1", a)
	}
	c.Close()
	eventually(t, "the closed connection to leave the active count", func() bool { return f.Status().Active == 0 })
}
