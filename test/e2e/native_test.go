//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/state"
)

// These tests run the kpf binary with its default runtime, native: the
// workspace's agent (a background `kpf agent`) serves the forwards with
// client-go against the local control plane. Tests that stop a component
// of the shared control plane (API server, kwok) or count failed requests
// are not parallel; every other one is, and so runs only once those are
// done.

// wsStateDir is the workspace's own state directory (under KPF_STATE_DIR):
// where its state file, agent socket and logs live.
func (w *workspace) wsStateDir() string {
	w.t.Helper()
	dir, err := state.Dir(func(k string) string {
		if k == "KPF_STATE_DIR" {
			return w.stateDir
		}
		return ""
	}, w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	return dir
}

// agentPIDs lists the serving agents of this workspace: the processes
// running `kpf agent --state-dir DIR ... --serve` (from /proc).
func (w *workspace) agentPIDs() []int { return w.agentProcs(true) }

// supervisorPIDs lists the agent supervisors of this workspace: the
// processes running `kpf agent --state-dir DIR` without --serve.
func (w *workspace) supervisorPIDs() []int { return w.agentProcs(false) }

func (w *workspace) agentProcs(serving bool) []int {
	w.t.Helper()
	dir := w.wsStateDir()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		w.t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(argv) < 2 || filepath.Base(argv[0]) != "kpf" || argv[1] != "agent" {
			continue
		}
		if slices.Contains(argv, "--serve") != serving {
			continue
		}
		if i := slices.Index(argv, "--state-dir"); i > 0 && i+1 < len(argv) && argv[i+1] == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// oneAgent returns the pid of the workspace's one agent, failing unless
// exactly one runs.
func (w *workspace) oneAgent() int {
	w.t.Helper()
	pids := w.agentPIDs()
	if len(pids) != 1 {
		w.t.Fatalf("agents of this workspace: %v, want exactly one", pids)
	}
	return pids[0]
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// nativeWorkspace is a workspace of the default runtime (native). When
// the test fails, the end of its agent's log is shown.
func nativeWorkspace(t *testing.T, ns string) *workspace {
	t.Helper()
	w := newWorkspaceWith(t, ns, "")
	t.Cleanup(func() { // before the workspace's destroy
		if t.Failed() {
			t.Logf("agent log (tail):\n%s", w.agentLogTail(80))
		}
	})
	return w
}

// agentLogTail is the agent log's warnings and errors, and its last n
// lines.
func (w *workspace) agentLogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(w.wsStateDir(), "logs", "agent.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var bad []string
	for _, l := range lines[:max(0, len(lines)-n)] {
		if strings.Contains(l, "[WARN]") || strings.Contains(l, "[ERROR]") || strings.Contains(l, "error") {
			bad = append(bad, l)
		}
	}
	return strings.Join(append(bad, lines[max(0, len(lines)-n):]...), "\n")
}

// TestNativeApplyPlanDestroy: apply serves four forwards (a service by
// named port, a deployment, a statefulset, a selector) from the right
// pods; plan has no changes; status shows the native runtime's pod,
// connections and bytes; logs shows connection events; destroy leaves no
// agent, no listener and no socket.
func TestNativeApplyPlanDestroy(t *testing.T) {
	t.Parallel()
	// The default transport (auto: SPDY where the API server accepts it,
	// as here), and WebSocket: both are first-class.
	for _, transport := range []string{"auto", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			applyPlanDestroy(t, transport)
		})
	}
}

func applyPlanDestroy(t *testing.T, transport string) {
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	w.extraEnv = append(w.extraEnv, "KPF_TRANSPORT="+transport)
	web, api, db, sel := fourPorts(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db)+fmt.Sprintf(`
forward "websel" {
  selector    = { app = "web" }
  local_port  = %d
  remote_port = "http"
}
`, sel))

	out := w.mustKpf("apply")
	if !strings.Contains(out, "4 started") {
		t.Errorf("apply summary:\n%s", out)
	}
	ctx := testContext(t)
	pods := func(sel string) []string {
		p, err := testCluster.Pods(ctx, ns, sel)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	webPods, apiPods := pods("app=web"), pods("app=api")
	for _, c := range []struct {
		name string
		port int
		want []string
	}{{"web", web, webPods}, {"api", api, apiPods}, {"websel", sel, webPods}} {
		// Start returns once the listener is bound and the target resolved:
		// the first connection is served, no retry.
		body, err := httpGetOnce(ctx, c.port, "/")
		if err != nil || !slices.Contains(c.want, body) {
			t.Errorf("through forward %s: %q, %v; want one of %v", c.name, body, err, c.want)
		}
	}
	if banner, err := readBanner(ctx, db); err != nil || banner != "db-0" {
		t.Errorf("through forward db: %q, %v; want db-0", banner, err)
	}

	w.expectNoChanges("after apply")
	st := w.status()
	for _, name := range []string{"web", "api", "db", "websel"} {
		r := st[name]
		if r.State != "running" || r.Runtime != native.Name || r.Pod == "" {
			t.Errorf("status of %s: %+v, want running, runtime native and its pod", name, r)
		}
		if r.Total == nil || *r.Total < 1 || r.BytesIn == nil || *r.BytesIn == 0 || r.Active == nil || r.BytesOut == nil {
			t.Errorf("status of %s: connections and bytes %s, want at least one connection and its bytes", name, counters(r))
		}
	}
	if r := st["web"]; !slices.Contains(webPods, r.Pod) || r.Health != "healthy" {
		t.Errorf("status of web: pod %q health %q, want one of %v and healthy (HTTP through the forward)", r.Pod, r.Health, webPods)
	}
	if r := st["db"]; r.Pod != "db-0" {
		t.Errorf("status of db: pod %q, want db-0", r.Pod)
	}

	logs := w.mustKpf("logs", "api")
	over := map[string]string{"auto": "SPDY", "websocket": "WebSocket"}[transport]
	for _, want := range []string{"listening", "tunnel-open pod=" + apiPods[0] + " over " + over, "conn-opened pod=" + apiPods[0], "conn-closed pod=" + apiPods[0]} {
		if !strings.Contains(logs, want) {
			t.Errorf("kpf logs api lacks %q:\n%s", want, logs)
		}
	}

	if tail := w.agentLogTail(1000); !strings.Contains(tail, "tunnels: transport="+transport) {
		t.Errorf("the agent log does not say its tunnels' transport is %s:\n%s", transport, tail)
	}
	agent := w.oneAgent()
	socket := filepath.Join(w.wsStateDir(), native.SocketName)
	if _, err := os.Stat(socket); err != nil {
		t.Errorf("the agent's socket: %v", err)
	}
	out = w.mustKpf("destroy")
	if !strings.Contains(out, "4 stopped") {
		t.Errorf("destroy:\n%s", out)
	}
	for _, port := range []int{web, api, db, sel} {
		if !portFree(port) {
			t.Errorf("port %d is still bound after destroy", port)
		}
	}
	// Destroy ends the idle agent (not its 10 s idle exit): a moment for
	// the process to go.
	waitUntil(t, 5*time.Second, "the agent to exit after destroy", func() bool {
		return len(w.agentPIDs()) == 0 && len(w.supervisorPIDs()) == 0 && !proc.Alive(proc.ID{PID: agent})
	})
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the agent's socket after destroy: %v, want gone", err)
	}
	if n := len(w.state().Forwards); n != 0 {
		t.Errorf("state holds %d forwards after destroy", n)
	}
}

func counters(r statusRow) string {
	f := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("active %s total %s in %s out %s", f(r.Active), f(r.Total), f(r.BytesIn), f(r.BytesOut))
}

// TestNativeRollingRestartLosesNothing: a rolling restart of a 2-replica
// deployment behind a forward, with a new connection every 20 ms for the
// whole rollout: none fails, and the listener is never closed.
//
// Not parallel: it counts failed requests, and the parallel tests load
// the machine. kwok deletes an old pod at once (no grace period), so under
// load a connection can go to a pod that is deleted before its tunnel is
// dialed (the API server then says not found): it must go to another
// Ready pod, not fail (CI under -race once saw exactly that).
func TestNativeRollingRestartLosesNothing(t *testing.T) {
	ns := newEmptyNamespace(t)
	ctx := testContext(t)
	if err := testCluster.DeployEcho(ctx, ns, "echo", 2); err != nil {
		t.Fatal(err)
	}
	before, err := testCluster.Pods(ctx, ns, "app=echo")
	if err != nil {
		t.Fatal(err)
	}
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("echo", fmt.Sprintf(`  target      = "service/echo"
  local_port  = %d
  remote_port = "http"
`, port)))
	w.mustKpf("--log-level", "debug", "apply") // the agent logs each connection's errors
	httpGetRetry(t, port, "/", 10*time.Second)
	agent := w.oneAgent()

	listener := listenerInode(t, port)
	if !holdsSocket(agent, listener) {
		t.Fatalf("the agent (pid %d) does not hold the listener on %d (socket inode %d)", agent, port, listener)
	}

	stop := make(chan struct{})
	done := make(chan connLoopResult, 1)
	start := time.Now()
	go func() { done <- connLoop(port, stop) }()
	rollout := make(chan error, 1)
	go func() { rollout <- testCluster.RolloutRestart(ctx, ns, "echo") }()
	select {
	case err = <-rollout:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		close(stop)
		<-done
		t.Fatal(err)
	}
	after, err := testCluster.Pods(ctx, ns, "app=echo")
	if err != nil {
		close(stop)
		<-done
		t.Fatal(err)
	}
	// Keep going for at least 20 s in all, and until the new pods answer.
	waitUntil(t, 30*time.Second, "a new pod to answer", func() bool {
		body, err := httpGetOnce(ctx, port, "/")
		return err == nil && slices.Contains(after, body) && time.Since(start) >= 20*time.Second
	})
	close(stop)
	r := <-done
	t.Logf("%d connections in %s, %d failed; answered by %v (before %v, after %v)",
		r.total, time.Since(start).Round(time.Millisecond), len(r.failures), r.seen, before, after)
	if len(r.banners) > 0 {
		t.Logf("%d connections got the test backend's speak-first banner (the request reached the pod >200 ms after the pod accepted; both ways checked):\n%s",
			len(r.banners), strings.Join(r.banners, "\n"))
	}
	r.check(t, before, after)
	// The listener is the very socket bound before the rollout, in the same
	// agent: never closed, never re-bound.
	if now := w.oneAgent(); now != agent {
		t.Errorf("the agent changed during the rollout: pid %d -> %d", agent, now)
	}
	if now := listenerInode(t, port); now != listener || !holdsSocket(agent, now) {
		t.Errorf("the listener on %d changed during the rollout: socket inode %d -> %d", port, listener, now)
	}
	if st := w.status()["echo"]; st.State != "running" || !slices.Contains(after, st.Pod) {
		t.Errorf("status after the rollout: %+v, want running on one of %v", st, after)
	}
	w.expectNoChanges("after the rollout")
}

// TestNativeDeletedPodReplacementServes: the one pod behind a forward is
// deleted; a connection open on it ends, and once the replacement is
// Ready new connections reach it, with no kpf command in between.
func TestNativeDeletedPodReplacementServes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	// kubectl's group-qualified spelling: spec and the engine share one
	// table of kinds (internal/kinds).
	w.writeSpec("kpf.hcl", oneForward("api", fmt.Sprintf(`  target      = "deployment.apps/api"
  local_port  = %d
  remote_port = 8080
`, port)))
	w.mustKpf("apply")
	ctx := testContext(t)

	// An in-flight connection: HTTP keep-alive, one answer read.
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	old, err := keepAliveGet(conn, br)
	if err != nil {
		t.Fatalf("the first request: %v", err)
	}

	if err := testCluster.DeletePod(ctx, ns, old); err != nil {
		t.Fatal(err)
	}
	// The connection on the deleted pod ends: at once, or once the engine's
	// drain of a deleted pod's tunnel (engine.Options.DrainTimeout, 2 s)
	// is over — requests in flight may finish meanwhile, as kube-proxy lets
	// them on a terminating pod.
	ended := time.Now().Add(15 * time.Second)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := keepAliveGet(conn, br); err != nil {
			if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("the connection to deleted pod %s hung instead of ending", old)
			}
			break
		}
		if time.Now().After(ended) {
			t.Fatalf("a connection to deleted pod %s still answers 15 s after the deletion", old)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := testCluster.WaitBacked(ctx, ns, "app=api", 1); err != nil {
		t.Fatal(err)
	}
	pods, err := testCluster.Pods(ctx, ns, "app=api")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 || pods[0] == old {
		t.Fatalf("pods after the delete: %v (deleted %s)", pods, old)
	}
	for i := range 5 {
		got, err := httpGetOnce(ctx, port, "/")
		if err != nil || got != pods[0] {
			t.Fatalf("request %d after the replacement was Ready: %q, %v; want %s", i, got, err, pods[0])
		}
	}
	st := w.status()["api"]
	if st.State != "running" || st.Pod != pods[0] {
		t.Errorf("status: %+v, want running on %s", st, pods[0])
	}
	if logs := w.mustKpf("logs", "api"); !strings.Contains(logs, "pod-switch pod="+pods[0]) {
		t.Errorf("no pod-switch to %s in the forward's log:\n%s", pods[0], logs)
	}
	w.expectNoChanges("after the pod was replaced")
}

// keepAliveGet sends one keep-alive GET / on c and returns the body.
func keepAliveGet(c net.Conn, br *bufio.Reader) (string, error) {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: kpf\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// serveAgain waits until every forward of threeForwardSpec serves again.
func serveAgain(t *testing.T, web, api, db int, within time.Duration) {
	t.Helper()
	ctx := testContext(t)
	waitUntil(t, within, "every forward serving again", func() bool {
		if _, err := httpGetOnce(ctx, web, "/"); err != nil {
			return false
		}
		if _, err := httpGetOnce(ctx, api, "/"); err != nil {
			return false
		}
		b, err := readBanner(ctx, db)
		return err == nil && b == "db-0"
	})
}

// TestNativeSurvivesAPIServerRestart: with the API server down nothing
// gets through; once it is back the forwards serve again on their
// listeners, healed by the agent with no kpf command (no --watch). Not
// parallel: it stops the shared API server.
func TestNativeSurvivesAPIServerRestart(t *testing.T) {
	survivesOutage(t, "the API server", testCluster.StopAPIServer, testCluster.StartAPIServer)
}

// TestNativeSurvivesKubeletFreeze: kwok (the kubelet) stops, so the pods'
// tunnels die; after it is back the forwards serve again with no kpf
// command. Not parallel: it stops the shared kwok.
func TestNativeSurvivesKubeletFreeze(t *testing.T) {
	survivesOutage(t, "the kubelet (kwok)", testCluster.StopKwok, testCluster.StartKwok)
}

// survivesOutage applies three native forwards, stops a part of the
// cluster (what) until connections fail, checks that every listener stayed
// bound, starts it again, and expects the same agent to serve every
// forward again with no kpf command and the plan to be "No changes.".
func survivesOutage(t *testing.T, what string, stop, start func(context.Context) error) {
	w, web, api, db := appliedThreeForwards(t)
	serveAgain(t, web, api, db, 10*time.Second)
	agent := w.oneAgent()

	ctx := testContext(t)
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	back := false
	t.Cleanup(func() {
		if !back {
			_ = start(context.Background())
		}
	})
	waitUntil(t, 30*time.Second, "connections to fail with "+what+" down", func() bool {
		_, err := httpGetOnce(ctx, api, "/")
		return err != nil
	})
	for _, port := range []int{web, api, db} {
		if portFree(port) {
			t.Errorf("the listener on %d closed with %s down", port, what)
		}
	}
	if err := start(ctx); err != nil {
		t.Fatal(err)
	}
	back = true
	for app, n := range map[string]int{"web": 2, "api": 1, "db": 1} {
		if err := testCluster.WaitBacked(ctx, w.ns, "app="+app, n); err != nil {
			t.Fatal(err)
		}
	}
	serveAgain(t, web, api, db, 60*time.Second)
	if now := w.oneAgent(); now != agent {
		t.Errorf("the agent changed: pid %d -> %d", agent, now)
	}
	w.expectNoChanges("after " + what + " came back")
}

// TestNativeForbiddenIsPermanent: a context that may not read the
// namespace fails at once, one attempt, exit 1, and leaves no handle.
func TestNativeForbiddenIsPermanent(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "api" {
  context     = "kpf-local-limited"
  namespace   = "%%NS%%"
  target      = "svc/api"
  local_port  = %d
  remote_port = 8080
}
`, port))
	start := time.Now()
	code, out, errOut := w.kpf("apply")
	if code != 1 {
		t.Fatalf("apply: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(strings.ToLower(out), "forbidden") || !strings.Contains(out, "1 attempt") {
		t.Errorf("apply should report forbidden after 1 attempt:\n%s%s", out, errOut)
	}
	t.Logf("apply failed in %s", time.Since(start).Round(time.Millisecond))
	if f, ok := w.state().Forwards["api"]; ok && !f.Handle.IsZero() {
		t.Errorf("a failed forward has a handle in the state: %+v", f)
	}
	if !portFree(port) {
		t.Errorf("the failed forward's port %d is bound", port)
	}
	if st := w.status()["api"]; st.State == "running" {
		t.Errorf("status of the forbidden forward: %+v", st)
	}
}

// TestNativeWatchRestoresKilledAgent: the serving agent is killed with
// kill -9 while `apply --watch` runs; every forward serves again on its
// port (its supervisor serves them again under the same handles, and the
// watch starts no duplicate).
func TestNativeWatchRestoresKilledAgent(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	web, api, db := threePorts(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))
	wt := w.watch()
	serveAgain(t, web, api, db, 10*time.Second)
	agent := w.oneAgent()
	before := w.state().Forwards

	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", agent, err)
	}
	killed := time.Now()
	waitUntil(t, 30*time.Second, "the agent replaced", func() bool {
		pids := w.agentPIDs()
		return len(pids) == 1 && pids[0] != agent
	})
	serveAgain(t, web, api, db, 30*time.Second)
	t.Logf("serving again %s after the kill", time.Since(killed).Round(time.Millisecond))
	for name, f := range w.state().Forwards {
		if f.Handle != before[name].Handle || f.LocalPort != before[name].LocalPort {
			t.Errorf("forward %s: handle %v port %d, want %v %d: served again by the restarted agent, not started anew", name, f.Handle, f.LocalPort, before[name].Handle, before[name].LocalPort)
		}
	}
	wt.stop(t)
	serveAgain(t, web, api, db, 5*time.Second) // the forwards outlive the watch
	w.expectNoChanges("after the agent was restored")
}

// TestNativeKilledAgentComesBack: with no --watch, kill -9 of the serving
// agent — its supervisor starts it again, and every forward serves again
// on its port under the same handle (kpf status: running); a forward
// destroyed before the next kill does not come back; destroying the rest
// ends the supervisor and the serving agent.
func TestNativeKilledAgentComesBack(t *testing.T) {
	t.Parallel()
	w, web, api, db := appliedThreeForwards(t)
	serveAgain(t, web, api, db, 10*time.Second)
	before := w.state().Forwards
	sups := w.supervisorPIDs()
	if len(sups) != 1 {
		t.Fatalf("supervisors: %v, want one", sups)
	}

	// The tunnels the requests opened are persisted (within a second);
	// the restarted agent dials them again before any connection asks.
	waitUntil(t, 10*time.Second, "the open tunnels persisted", func() bool {
		b, err := os.ReadFile(filepath.Join(w.wsStateDir(), native.ForwardsFile))
		return err == nil && strings.Contains(string(b), `"tunnels":[{`)
	})
	// The kill, with the supervisor stopped until the agent is dead: no
	// serving agent runs, yet web's port accepts (the supervisor keeps a
	// copy of its listener); a request made then waits in the backlog and
	// the next agent answers it.
	cont := w.killAgentWhileSupervisorStopped(sups[0])
	waiting, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(web)), 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to web while no agent runs: %v; want it accepted (the supervisor keeps the listener)", err)
	}
	defer waiting.Close()
	if _, err := io.WriteString(waiting, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	cont()
	went := time.Now()
	_ = waiting.SetDeadline(time.Now().Add(30 * time.Second))
	if answer, err := bufio.NewReader(waiting).ReadString('\n'); !strings.HasPrefix(answer, "HTTP/1.") {
		t.Errorf("the request made while no agent ran: %q, %v; want the next agent to answer it", answer, err)
	}
	serveAgain(t, web, api, db, 30*time.Second)
	t.Logf("serving again %s after the supervisor went on", time.Since(went).Round(time.Millisecond))
	waitUntil(t, 10*time.Second, "the restarted agent to dial its tunnels again", func() bool {
		b, _ := os.ReadFile(filepath.Join(w.wsStateDir(), "logs", "agent.log"))
		return regexp.MustCompile(`tunnels dialed again after the restart: tunnels=[1-9]\d* failed=0`).Match(b)
	})
	for name, row := range w.status() {
		if row.State != "running" || row.Restarts != 1 {
			t.Errorf("status of %s after the restart: %+v, want running, restarted once", name, row)
		}
	}
	// They served with their persisted resolutions, reading no target first.
	log, _ := os.ReadFile(filepath.Join(w.wsStateDir(), "logs", "agent.log"))
	if n := len(regexp.MustCompile(`forward served again: .*with_resolution=true`).FindAll(log, -1)); n != 3 {
		t.Errorf("%d forwards served again with their persisted resolution, want 3; the agent's log:\n%s", n, log)
	}
	for name, f := range w.state().Forwards {
		if f.Handle != before[name].Handle {
			t.Errorf("forward %s: handle %v, want %v (no kpf command ran)", name, f.Handle, before[name].Handle)
		}
	}
	if now := w.supervisorPIDs(); !slices.Equal(now, sups) {
		t.Errorf("supervisors %v after the kill, want %v", now, sups)
	}

	w.mustKpf("destroy", "api")
	w.killServingAgent()
	ctx := testContext(t)
	waitUntil(t, 30*time.Second, "web and db serving again", func() bool {
		_, err := httpGetOnce(ctx, web, "/")
		b, berr := readBanner(ctx, db)
		return err == nil && berr == nil && b == "db-0"
	})
	if !portFree(api) {
		t.Errorf("the destroyed forward's port %d is bound again", api)
	}
	if row := w.status()["api"]; row.State == "running" {
		t.Errorf("status of the destroyed forward: %+v, want it not running", row)
	}

	w.mustKpf("destroy")
	waitUntil(t, 10*time.Second, "the supervisor and the serving agent to exit", func() bool {
		return len(w.agentPIDs()) == 0 && len(w.supervisorPIDs()) == 0
	})
	if _, err := os.Stat(filepath.Join(w.wsStateDir(), native.SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the agent's socket after destroy: %v, want gone", err)
	}
}

// TestNativeRestoredForwardFollowsTargetChangedMeanwhile: the serving
// agent dies while its supervisor is stopped, the service's selector and
// port change, then the supervisor goes on: the restarted agent serves with
// the persisted resolution at once, reads the service again, and starts the
// forward anew on the same port with the new one.
func TestNativeRestoredForwardFollowsTargetChangedMeanwhile(t *testing.T) {
	t.Parallel()
	w, web, _, _ := appliedThreeForwards(t)
	if body := httpGetRetry(t, web, "/", 10*time.Second); !strings.HasPrefix(body, "web-") {
		t.Fatalf("web before: %q", body)
	}
	sups := w.supervisorPIDs()
	if len(sups) != 1 {
		t.Fatalf("supervisors: %v, want one", sups)
	}
	cont := w.killAgentWhileSupervisorStopped(sups[0])
	ctx := testContext(t)
	patch := `{"spec":{"selector":{"app":"api"},"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]}}`
	if out, err := testCluster.Kubectl(ctx, "-n", w.ns, "patch", "service", "web", "--type", "merge", "-p", patch); err != nil {
		t.Fatalf("patching service web: %v: %s", err, out)
	}
	cont()
	waitUntil(t, 30*time.Second, "web to answer from the api pods", func() bool {
		body, err := httpGetOnce(ctx, web, "/")
		return err == nil && strings.HasPrefix(body, "api-")
	})
	log, _ := os.ReadFile(filepath.Join(w.wsStateDir(), "logs", "agent.log"))
	if !strings.Contains(string(log), "the target changed while the agent was down: starting the forward anew: forward=web") {
		t.Errorf("the agent's log does not say that web's target changed:\n%s", log)
	}
	if row := w.status()["web"]; row.State != "running" {
		t.Errorf("status of web: %+v, want running", row)
	}
}

// killAgentWhileSupervisorStopped stops the supervisor sup (SIGSTOP), kills
// the serving agent with kill -9 and waits until it has exited: no serving
// agent runs until cont lets the supervisor go on (the test's cleanup
// does it too).
func (w *workspace) killAgentWhileSupervisorStopped(sup int) (cont func()) {
	w.t.Helper()
	if err := syscall.Kill(sup, syscall.SIGSTOP); err != nil {
		w.t.Fatal(err)
	}
	cont = sync.OnceFunc(func() { _ = syscall.Kill(sup, syscall.SIGCONT) })
	w.t.Cleanup(cont)
	agent := w.oneAgent()
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		w.t.Fatal(err)
	}
	waitUntil(w.t, 10*time.Second, "the killed agent to exit", func() bool { return exited(agent) })
	return cont
}

// exited reports whether pid has exited: gone, or a zombie (its sockets
// are closed).
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// appliedThreeForwards is a native workspace of its own namespace with
// threeForwardSpec applied.
func appliedThreeForwards(t *testing.T) (w *workspace, web, api, db int) {
	t.Helper()
	w = nativeWorkspace(t, newNamespace(t))
	web, api, db = threePorts(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))
	w.mustKpf("apply")
	return w, web, api, db
}

// killServingAgent kills the serving agent with kill -9 and waits until
// its supervisor has started another; it returns when it killed.
func (w *workspace) killServingAgent() time.Time {
	w.t.Helper()
	agent := w.oneAgent()
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		w.t.Fatalf("kill -9 %d: %v", agent, err)
	}
	killed := time.Now()
	waitUntil(w.t, 30*time.Second, "the serving agent started again", func() bool {
		pids := w.agentPIDs()
		return len(pids) == 1 && pids[0] != agent
	})
	return killed
}

// TestNativeSweepsUnnamedForwards: an apply killed between starting a
// forward and recording it leaves a forward in the agent that no state
// names; the next apply stops it (and starts the spec's forward anew), and
// so does destroy.
func TestNativeSweepsUnnamedForwards(t *testing.T) {
	t.Parallel()
	w, web, api, db := appliedThreeForwards(t)
	serveAgain(t, web, api, db, 10*time.Second)

	// As if apply was killed before it recorded api: drop it from the state.
	dropFromState(t, w, "api")
	code, out, errOut := w.kpf("apply")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "Stopped a forward no state named: forward api") {
		t.Errorf("apply did not report the swept forward:\n%s%s", out, errOut)
	}
	if !strings.Contains(out, "1 started") {
		t.Errorf("apply did not start api again:\n%s", out)
	}
	serveAgain(t, web, api, db, 10*time.Second)
	w.expectNoChanges("after the sweep")

	// destroy sweeps too.
	dropFromState(t, w, "db")
	code, out, errOut = w.kpf("destroy")
	if code != 0 || !strings.Contains(errOut, "Stopped a forward no state named: forward db") || !strings.Contains(out, "2 stopped") {
		t.Errorf("destroy: exit %d\n%s%s", code, out, errOut)
	}
	for _, port := range []int{web, api, db} {
		if !portFree(port) {
			t.Errorf("port %d is still bound after destroy", port)
		}
	}
}

// dropFromState removes forward name from the workspace's state file.
func dropFromState(t *testing.T, w *workspace, name string) {
	t.Helper()
	st, err := state.Open(w.wsStateDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Forwards[name]; !ok {
		t.Fatalf("no forward %s in the state", name)
	}
	delete(f.Forwards, name)
	if err := st.Save(f); err != nil {
		t.Fatal(err)
	}
}

// TestNativeConcurrentApplies: two applies of one workspace at once; one
// waits for the lock, the state is valid and one agent serves everything.
func TestNativeConcurrentApplies(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	web, api, db := threePorts(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))

	results := w.kpfAtOnce(2, "apply")
	started := 0
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("apply %d: exit %d (the other holds the lock for well under its 10 s wait)\n%s%s", i, r.code, r.out, r.errOut)
		}
		if strings.Contains(r.out, "3 started") {
			started++
		} else if !strings.Contains(r.out, "No changes.") {
			t.Errorf("apply %d: neither started the forwards nor found no changes:\n%s", i, r.out)
		}
	}
	if started != 1 {
		t.Errorf("%d applies started the forwards, want exactly one (the other waits, then has nothing to do)", started)
	}
	if n := len(w.state().Forwards); n != 3 {
		t.Errorf("state holds %d forwards, want 3", n)
	}
	serveAgain(t, web, api, db, 10*time.Second)
	w.expectNoChanges("after two applies")
	w.oneAgent()
}

// TestNativeUpgradesV1KubectlState: a state file of version 1 (written
// before handles named runtimes) whose forward is a kubectl process
// upgrades without losing the forward: with the spec's runtime left to
// the default, plan replaces it kubectl -> native and apply stops the
// kubectl process and serves the forward natively on the same port.
func TestNativeUpgradesV1KubectlState(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := newWorkspaceWith(t, ns, "kubectl")
	port := testutil.FreePort(t)
	spec := oneForward("api", fmt.Sprintf(`  target      = "svc/api"
  local_port  = %d
  remote_port = 8080
`, port))
	w.writeSpec("kpf.hcl", spec)
	w.mustKpf("apply")
	httpGetRetry(t, port, "/", 10*time.Second)
	kubectlProc := procOf(w.forward("api").Handle)
	if !proc.Alive(kubectlProc) {
		t.Fatalf("the kubectl forward %+v is not running", kubectlProc)
	}

	writeV1State(t, w)
	w.runtime = "" // the default: native
	w.writeSpec("kpf.hcl", spec)

	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "forward.api must be replaced") ||
		!strings.Contains(out, `runtime     = "kubectl" -> "native"`) {
		t.Fatalf("plan: exit %d, want 2 and a replace of api kubectl -> native\n%s%s", code, out, errOut)
	}
	if !proc.Alive(kubectlProc) {
		t.Fatalf("plan stopped the kubectl forward")
	}
	w.mustKpf("apply")
	if proc.Alive(kubectlProc) {
		t.Errorf("the kubectl process %d still runs after the move to native", kubectlProc.PID)
	}
	if pids := kubectlPortForwardsFor(t, ns); len(pids) > 0 {
		t.Errorf("kubectl port-forward processes remain: %v", pids)
	}
	f := w.forward("api")
	if f.Handle.Runtime != native.Name || f.LocalPort != port {
		t.Errorf("after apply: handle %s on port %d, want native on %d", f.Handle, f.LocalPort, port)
	}
	if body := httpGetRetry(t, port, "/", 10*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through the native forward: %q", body)
	}
	if st := w.status()["api"]; st.Runtime != native.Name || st.State != "running" {
		t.Errorf("status: %+v, want running natively", st)
	}
	w.oneAgent()
	w.expectNoChanges("after the move to native")
}

// writeV1State rewrites the workspace's state file as kpf wrote it before
// version 2: each handle the kubectl process's {pid, start_time}.
func writeV1State(t *testing.T, w *workspace) {
	t.Helper()
	path := filepath.Join(w.wsStateDir(), state.StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["version"] = 1
	forwards, _ := raw["forwards"].(map[string]any)
	for name, v := range forwards {
		fw := v.(map[string]any)
		id := procOf(w.forward(name).Handle)
		if id.PID == 0 {
			t.Fatalf("forward %s has no kubectl process", name)
		}
		fw["handle"] = map[string]any{"pid": id.PID, "start_time": id.StartTime}
		fw["log_path"] = filepath.Join(w.wsStateDir(), "logs", name+".log")
	}
	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if f := w.state(); f.Forwards["api"].Handle.Runtime != "kubectl" {
		t.Fatalf("the v1 file does not read as a kubectl forward: %+v", f.Forwards["api"].Handle)
	}
}

// connLoopResult is what connLoop saw.
type connLoopResult struct {
	total    int
	failures []string
	banners  []string
	seen     map[string]int // answers by pod
}

// check fails t for every failed connection, and unless both the pods
// from before the rollout and those after it answered.
func (r connLoopResult) check(t *testing.T, before, after []string) {
	t.Helper()
	if len(r.failures) > 0 {
		t.Errorf("%d of %d connections failed during the rolling restart:\n%s", len(r.failures), r.total, strings.Join(r.failures, "\n"))
	}
	oldSeen, newSeen := 0, 0
	for pod, n := range r.seen {
		if slices.Contains(before, pod) {
			oldSeen += n
		}
		if slices.Contains(after, pod) {
			newSeen += n
		}
	}
	if oldSeen == 0 || newSeen == 0 {
		t.Errorf("answers from old pods %d, new pods %d: want both", oldSeen, newSeen)
	}
}

// connLoop opens one new connection every 20 ms through port until stop
// is closed, each carrying one HTTP request, and records which pod
// answered. The test backend speaks first (its pod's name, then an echo)
// to a client silent for 200 ms: on a loaded machine a request can reach
// the pod later than that. Such an answer still proves the connection
// reached a live pod both ways (the echo of the request is checked), so
// it is recorded as a banner, not a failure.
func connLoop(port int, stop <-chan struct{}) connLoopResult {
	r := connLoopResult{seen: map[string]int{}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return r
		case <-tick.C:
		}
		r.total++
		at := time.Now().Format("15:04:05.000")
		pod, banner, err := requestOnce(port)
		switch {
		case err != nil:
			r.failures = append(r.failures, at+": "+err.Error())
			continue
		case banner:
			r.banners = append(r.banners, at+": "+pod)
		}
		r.seen[pod]++
	}
}

// requestOnce sends one HTTP request on a new connection to port and
// returns the pod that answered; banner is true when the pod spoke first.
func requestOnce(port int) (pod string, banner bool, err error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	const req = "GET / HTTP/1.1\r\nHost: kpf\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return "", false, err
	}
	br := bufio.NewReader(c)
	head, err := br.Peek(5)
	if err != nil {
		return "", false, fmt.Errorf("reading the answer: %w", err)
	}
	if string(head) == "HTTP/" {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return "", false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", false, err
		}
		if resp.StatusCode != http.StatusOK {
			return "", false, fmt.Errorf("GET /: %s", resp.Status)
		}
		return strings.TrimSpace(string(b)), false, nil
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return "", false, fmt.Errorf("reading the banner: %w", err)
	}
	echo := make([]byte, len(req))
	if _, err := io.ReadFull(br, echo); err != nil || string(echo) != req {
		return "", false, fmt.Errorf("banner %q without the echo of the request (%q, %v)", strings.TrimSpace(line), echo, err)
	}
	return strings.TrimSpace(line), true, nil
}

// listenerInode is the socket inode of the TCP listener on 127.0.0.1:port
// (from /proc/net/tcp), failing the test when there is none.
func listenerInode(t *testing.T, port int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) >= 10 && f[1] == local && f[3] == "0A" {
			ino, err := strconv.ParseUint(f[9], 10, 64)
			if err != nil {
				t.Fatalf("/proc/net/tcp: %q: %v", line, err)
			}
			return ino
		}
	}
	t.Fatalf("no listener on 127.0.0.1:%d", port)
	return 0
}

// holdsSocket reports whether process pid has socket inode ino open.
func holdsSocket(pid int, ino uint64) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// freeLocalPorts returns n distinct loopback ports that were free a moment
// ago.
func freeLocalPorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testutil.FreePort(t)
	}
	return ports
}

func threePorts(t *testing.T) (int, int, int) {
	t.Helper()
	p := freeLocalPorts(t, 3)
	return p[0], p[1], p[2]
}

func fourPorts(t *testing.T) (int, int, int, int) {
	t.Helper()
	p := freeLocalPorts(t, 4)
	return p[0], p[1], p[2], p[3]
}

// TestNativeDestroyRefusesLinkedSocket: a workspace whose agent.sock is a
// symbolic link to another workspace's agent socket does not reach that
// agent: its destroy (which sweeps every forward its state does not name)
// refuses the socket, and the other workspace's forwards keep serving. On
// main it stopped them.
func TestNativeDestroyRefusesLinkedSocket(t *testing.T) {
	t.Parallel()
	victim, web, api, db := appliedThreeForwards(t)
	serveAgain(t, web, api, db, 10*time.Second)

	w := nativeWorkspace(t, victim.ns)
	w.writeSpec("kpf.hcl", "")
	if err := os.MkdirAll(w.wsStateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(w.wsStateDir(), native.SocketName)
	if err := os.Symlink(filepath.Join(victim.wsStateDir(), native.SocketName), link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	// destroy warns (its sweep is best effort) and touches nothing.
	code, out, errOut := w.kpf("destroy")
	if !strings.Contains(out+errOut, "refusing the agent socket") || !strings.Contains(out+errOut, "not a socket but a symbolic link") {
		t.Errorf("destroy through a linked socket: exit %d\n%s%s", code, out, errOut)
	}
	serveAgain(t, web, api, db, 10*time.Second)
	if n := len(victim.state().Forwards); n != 3 {
		t.Errorf("the other workspace's state holds %d forwards, want 3", n)
	}
}

// TestNativeStatusAfterClientsAndPodsGo: against the local control plane,
// a client that closed is no longer counted in CONNS although the pod (an
// echo server, as a database would) never closes its side and kpf waits
// 5 s for its last bytes; after a scale to 0 the POD column no longer
// names the deleted pod; the log's pod-switch names the pod once.
func TestNativeStatusAfterClientsAndPodsGo(t *testing.T) {
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("db", fmt.Sprintf("  target      = \"statefulset/db\"\n  local_port  = %d\n  remote_port = 5432\n  health {\n    none = true\n  }\n", port)))
	w.mustKpf("apply")
	ctx := testContext(t)
	banner, err := readBanner(ctx, port) // reads the pod's name, then closes
	if err != nil || banner != "db-0" {
		t.Fatalf("through db: %q, %v", banner, err)
	}
	if r := w.status()["db"]; r.Pod != "db-0" {
		t.Fatalf("status after a connection to db-0: pod %q", r.Pod)
	}
	waitUntil(t, 3*time.Second, "the closed connection to leave CONNS (before the 5 s kpf waits for the pod)", func() bool {
		r := w.status()["db"]
		return r.Active != nil && *r.Active == 0
	})
	if logs := w.mustKpf("logs", "db"); strings.Contains(logs, "pod-switch pod=db-0 to db-0") || !strings.Contains(logs, "pod-switch pod=db-0") {
		t.Errorf("the log's pod-switch:\n%s", logs)
	}

	if out, err := testCluster.Kubectl(ctx, "-n", ns, "scale", "statefulset/db", "--replicas=0"); err != nil {
		t.Fatalf("scale to 0: %v\n%s", err, out)
	}
	waitUntil(t, 30*time.Second, "the deleted pod to leave the POD column", func() bool {
		r := w.status()["db"]
		return r.Pod == "" && r.State == "running"
	})
}

// TestNativeRestoredPodGoneMeanwhile: the serving agent dies while its
// supervisor is stopped, and the pod its api forward used is deleted; the
// restarted agent serves at once on the pods of before, finds that one
// gone (its dial fails, the list does not show it), closes its tunnel and
// serves api from the replacement pod.
func TestNativeRestoredPodGoneMeanwhile(t *testing.T) {
	t.Parallel()
	w, web, api, db := appliedThreeForwards(t)
	serveAgain(t, web, api, db, 10*time.Second)
	was := httpGetRetry(t, api, "/", 10*time.Second)
	if !strings.HasPrefix(was, "api-") {
		t.Fatalf("api before: %q", was)
	}
	waitUntil(t, 10*time.Second, "api's pod among the persisted tunnels", func() bool {
		b, err := os.ReadFile(filepath.Join(w.wsStateDir(), native.ForwardsFile))
		return err == nil && strings.Contains(string(b), `"pod":"`+was+`"`)
	})
	sups := w.supervisorPIDs()
	if len(sups) != 1 {
		t.Fatalf("supervisors: %v, want one", sups)
	}
	cont := w.killAgentWhileSupervisorStopped(sups[0])
	ctx := testContext(t)
	if out, err := testCluster.Kubectl(ctx, "-n", w.ns, "delete", "pod", was, "--wait=false"); err != nil {
		t.Fatalf("deleting pod %s: %v: %s", was, err, out)
	}
	cont()
	var now string
	waitUntil(t, 60*time.Second, "api to answer from another pod", func() bool {
		body, err := httpGetOnce(ctx, api, "/")
		now = body
		return err == nil && strings.HasPrefix(body, "api-") && body != was
	})
	log, _ := os.ReadFile(filepath.Join(w.wsStateDir(), "logs", "agent.log"))
	for _, want := range []string{
		`serving on the pods of before the restart until the pod list arrives: .* pods=sel=app=api early=1`,
		`not among the Ready pods listed: closing its tunnel: .* pod=` + regexp.QuoteMeta(was) + ` reason="pod (gone|deleted) while the agent was down"`, // deleted: still terminating when listed
	} {
		if !regexp.MustCompile(want).Match(log) {
			t.Errorf("the agent's log does not match %q; it is:\n%s", want, log)
		}
	}
	if row := w.status()["api"]; row.State != "running" || row.Pod != now {
		t.Errorf("status of api: %+v, want running on %s", row, now)
	}
}
