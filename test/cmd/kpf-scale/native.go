//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kpf-dev/kpf/runtime/native/nativetest"
	"github.com/kpf-dev/kpf/state"
	"github.com/kpf-dev/kpf/test/internal/measure"
	"github.com/kpf-dev/kpf/test/internal/measure/kpfstate"
)

// engineIdleTimeout is the agent's tunnel idle timeout (engine.Options'
// default, which the agent keeps).
const engineIdleTimeout = 30 * time.Second

// workspaceStateDir is the current workspace's state directory.
func (r *run) workspaceStateDir() (string, error) {
	return kpfstate.Dir(r.stateDir, r.wsDir)
}

// agentPID is the pid of the current workspace's agent, 0 when none runs.
func (r *run) agentPID(ctx context.Context) int {
	return kpfstate.AgentPID(ctx, r.stateDir, r.wsDir)
}

// ticksOf is utime+stime of pid in clock ticks, 0 if unknown.
func ticksOf(pid int) int64 {
	t, _ := measure.CPUTicks(pid)
	return t
}

// holdersCPU is the CPU ticks used so far by what serves the forwards: the
// kubectl processes, or the agent.
func (r *run) holdersCPU(ctx context.Context, st *state.File) int64 {
	if r.rt == runtimeNative {
		return ticksOf(r.agentPID(ctx))
	}
	return forwardsCPU(st)
}

// waitAllServe waits until every forward of the state serves bytes.
func (r *run) waitAllServe(ctx context.Context, timeout time.Duration) error {
	st, err := r.readState()
	if err != nil {
		return err
	}
	ports := make([]int, 0, len(st.Forwards))
	for _, f := range st.Forwards {
		ports = append(ports, f.LocalPort)
	}
	return waitPortsServe(ctx, ports, timeout)
}

func waitPortsServe(ctx context.Context, ports []int, timeout time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ports))
	for i, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitServes(ctx, "127.0.0.1", p, timeout)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// measureComeback kills the serving agent with SIGKILL with no kpf
// command running (after `kpf apply`), and times until every forward
// serves bytes again: its supervisor starts it again, which serves the
// persisted forwards. It also reports the supervisor's RSS.
func (r *run) measureComeback(ctx context.Context) error {
	times, err := r.timeAgentKills(ctx, r.opts.comebacks, r.opts.comebackGap, "the serving agent", "all forwards serve again, no watch")
	if err != nil {
		return err
	}
	r.add("recovery after kill -9 of the agent, no watch",
		p50p95(times), "p50 ≤ 0.3 s native (all forwards)",
		fmt.Sprintf("the serving agent killed (%d kills, %s apart), its supervisor starts it again; until all %d forwards serve bytes again; min %s, max %s", len(times), fmtDur(r.opts.comebackGap), r.opts.forwards, fmtDur(times[0]), fmtDur(times[len(times)-1])))
	if sup := r.supervisorPID(ctx); sup > 0 {
		if rss, _, err := procMemory(sup); err == nil {
			r.add("the agent's supervisor: RSS", fmtMB(rss), "—", "the process that restarts the serving agent")
		}
	}
	return nil
}

// timeAgentKills kills the agent with SIGKILL kills times, gap apart, and
// returns, sorted, how long after each kill every forward served bytes
// again. who names the agent in its errors; logMsg is logged after each
// recovery.
func (r *run) timeAgentKills(ctx context.Context, kills int, gap time.Duration, who, logMsg string) ([]time.Duration, error) {
	var times []time.Duration
	for range kills {
		if err := r.waitAllServe(ctx, 30*time.Second); err != nil {
			return nil, fmt.Errorf("before the kill: %w", err)
		}
		pid := r.agentPID(ctx)
		if pid == 0 {
			return nil, errors.New("no agent runs")
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return nil, fmt.Errorf("killing %s (pid %d): %w", who, pid, err)
		}
		t0 := time.Now()
		for vmHWM(pid) >= 0 { // until it is gone or a zombie: its listeners are closed
			if err := measure.Sleep(ctx, time.Millisecond); err != nil {
				return nil, err
			}
		}
		if err := r.waitAllServe(ctx, 60*time.Second); err != nil {
			return nil, fmt.Errorf("after killing %s: %w", who, err)
		}
		d := time.Since(t0)
		times = append(times, d)
		r.log.Info(logMsg, "after", d, "old_agent", pid, "new_agent", r.agentPID(ctx))
		if len(times) < kills {
			if err := measure.Sleep(ctx, gap); err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(times)
	return times, nil
}

// supervisorPID is the pid of the current workspace's agent supervisor, 0
// when none runs.
func (r *run) supervisorPID(ctx context.Context) int {
	dir, err := r.workspaceStateDir()
	if err != nil {
		return 0
	}
	a, _ := nativetest.Hello(ctx, dir)
	return a.Supervisor
}

// measureAgentKills kills the agent with SIGKILL while `apply --watch`
// runs, and times until every forward serves bytes again.
func (r *run) measureAgentKills(ctx context.Context) error {
	times, err := r.timeAgentKills(ctx, r.opts.agentKills, r.opts.agentGap, "the agent", "all forwards serve again")
	if err != nil {
		return err
	}
	r.add("recovery after kill -9 under `apply --watch`",
		p50p95(times), "p50 ≤ 0.5 s native (all forwards)",
		fmt.Sprintf("the agent killed (%d kills, %s apart); until all %d forwards serve bytes again; min %s, max %s", len(times), fmtDur(r.opts.agentGap), r.opts.forwards, fmtDur(times[0]), fmtDur(times[len(times)-1])))
	return nil
}

// startWatch runs `kpf apply --watch` in the current workspace, with
// extraEnv, and waits until it watches; Stop ends it.
func (r *run) startWatch(ctx context.Context, extraEnv ...string) (*measure.Watch, error) {
	wctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(wctx, r.kpf, "-C", r.wsDir, "--log-level", "info", "apply", "--watch")
	cmd.Env = r.env(extraEnv...)
	return measure.StartWatch(ctx, cmd, cancel, time.Minute, r.log)
}

// fetch sends one HTTP/1.0 request through a forward and returns the
// answer's body (the echo backends answer with the pod's name) and when
// its first byte came. A complete answer is its headers and Content-Length
// bytes of body: fetch does not wait for the connection to close.
func fetch(ctx context.Context, port int, timeout time.Duration) (body string, first time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", first, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: scale\r\n\r\n"); err != nil {
		return "", first, err
	}
	fr := &firstRead{r: conn}
	resp, err := http.ReadResponse(bufio.NewReader(fr), nil)
	if err != nil {
		return "", fr.first, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fr.first, fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fr.first, fmt.Errorf("status %s", resp.Status)
	}
	return string(b), fr.first, nil
}

// firstRead records when the first bytes were read.
type firstRead struct {
	r     io.Reader
	first time.Time
}

func (f *firstRead) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.first.IsZero() {
		f.first = time.Now()
	}
	return n, err
}

// measureRollout needs the own cluster: a rolling restart of the 2-replica
// deployment "roll" under a stream of new connections, and deletions of the
// one pod of "solo", both with `apply --watch` running.
func (r *run) measureRollout(ctx context.Context) error {
	if r.cluster == nil {
		r.log.Info("no rollout figures with --kubeconfig")
		return nil
	}
	if err := r.use("roll"); err != nil {
		return err
	}
	base := r.opts.basePort + 1500
	if err := r.writeWorkspace([]string{"service/roll:80", "service/solo:80"}, 2, base); err != nil {
		return err
	}
	defer r.destroy()
	w, err := r.startWatch(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := r.waitAllServe(ctx, 60*time.Second); err != nil {
		return err
	}
	// A busy port moves a forward: use the ports kpf chose.
	st, err := r.readState()
	if err != nil {
		return err
	}
	roll, ok1 := st.Forwards["f000"]
	solo, ok2 := st.Forwards["f001"]
	if !ok1 || !ok2 {
		return fmt.Errorf("the roll workspace's state lacks f000 or f001")
	}

	// The agent's events of f000 during the rollout (`kpf logs -f`: its
	// ring of recent events is too short for 1,000 connections).
	var follow *exec.Cmd
	var followOut measure.SyncBuffer
	if r.rt == runtimeNative {
		follow = r.kpfCmd(ctx, "logs", "-f", "f000")
		follow.Stdout, follow.Stderr = &followOut, &followOut
		if err := follow.Start(); err != nil {
			return fmt.Errorf("kpf logs -f: %w", err)
		}
		defer func() {
			_ = follow.Process.Kill()
			_ = follow.Wait()
		}()
	}
	// Rolling restart: one new connection every rolloutStep.
	var total, failed atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	rolled := make(chan error, 1)
	var rollTook time.Duration
	t0 := time.Now()
	go func() {
		if err := measure.Sleep(ctx, 2*time.Second); err != nil {
			rolled <- err
			return
		}
		s := time.Now()
		err := r.cluster.RolloutRestart(ctx, r.opts.namespace, "roll")
		rollTook = time.Since(s)
		rolled <- err
	}()
	tick := time.NewTicker(r.opts.rolloutStep)
	for time.Since(t0) < r.opts.rollout {
		select {
		case <-ctx.Done():
			tick.Stop()
			return ctx.Err()
		case <-tick.C:
		}
		wg.Add(1)
		total.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := fetch(ctx, roll.LocalPort, 10*time.Second); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	if err := <-rolled; err != nil {
		return fmt.Errorf("rolling restart: %w", err)
	}
	note := fmt.Sprintf("the restart (patch until only new pods are Ready and backed) took %s from +2 s", fmtDur(rollTook))
	if e, ok := firstErr.Load().(string); ok {
		note += "; first failure: " + e
	}
	if r.rt == runtimeNative {
		if err := measure.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		note += "; " + r.summariseEvents(followOut.String(), "rollout")
	}
	r.add(fmt.Sprintf("rolling restart of 2 replicas: failed of the new connections (one every %s for %s)", fmtDur(r.opts.rolloutStep), fmtDur(r.opts.rollout)),
		fmt.Sprintf("%d of %d", failed.Load(), total.Load()), "0 native", note)

	// Pod deleted, its replacement Ready: how soon new connections reach it.
	var lat, gaps []time.Duration
	var steps []string
	for range 3 {
		l, st, gap, err := r.deleteSolo(ctx, solo.LocalPort)
		if err != nil {
			return err
		}
		lat, gaps, steps = append(lat, l), append(gaps, gap), append(steps, st)
	}
	note = fmt.Sprintf("3 deletions of a 1-replica deployment's pod; a new connection every 5 ms; Ready seen by a pod watch of kpf-scale (the harness makes a pod Ready once it serves, as a readiness probe would); delete→Ready %s", joinDur(gaps))
	if r.rt == runtimeNative {
		note += "; after Ready, from kpf's events: " + strings.Join(steps, "; ")
	}
	r.add("pod deleted, replacement Ready: first answer from the new pod after Ready", joinDur(lat), "≤ 50 ms native", note)
	return nil
}

func joinDur(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		if d == noAnswer {
			s = append(s, "none in "+fmtDur(noAnswerWait))
			continue
		}
		s = append(s, fmtDur(d))
	}
	return strings.Join(s, ", ")
}

// deleteSolo deletes the pod of "solo" while new connections to port start
// every 5 ms, and returns how long after the replacement was seen Ready the
// first answer from it came, and how long from the delete to Ready.
func (r *run) deleteSolo(ctx context.Context, port int) (latency time.Duration, steps string, gap time.Duration, err error) {
	cs, err := r.clientset()
	if err != nil {
		return 0, "", 0, err
	}
	old, err := r.cluster.Pods(ctx, r.opts.namespace, "app=solo")
	if err != nil || len(old) != 1 {
		return 0, "", 0, fmt.Errorf("pods of solo: %v %w", old, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := cs.CoreV1().Pods(r.opts.namespace).Watch(wctx, metav1.ListOptions{LabelSelector: "app=solo"})
	if err != nil {
		return 0, "", 0, fmt.Errorf("watching pods: %w", err)
	}
	defer w.Stop()
	type ready struct {
		name string
		at   time.Time
	}
	readyc := make(chan ready, 1)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name == old[0] || p.DeletionTimestamp != nil {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					select {
					case readyc <- ready{p.Name, time.Now()}:
					default:
					}
					return
				}
			}
		}
	}()

	type answer struct {
		body  string
		first time.Time
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	reqCtx, stopReqs := context.WithCancel(ctx)
	defer stopReqs()
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-reqCtx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, first, err := fetch(ctx, port, 10*time.Second)
				if err == nil {
					mu.Lock()
					answers = append(answers, answer{body, first})
					mu.Unlock()
				}
			}()
		}
	}()
	del := time.Now()
	delErr := make(chan error, 1)
	go func() { delErr <- r.cluster.DeletePod(ctx, r.opts.namespace, old[0]) }()
	var rd ready
	select {
	case rd = <-readyc:
	case <-time.After(2 * time.Minute):
		return 0, "", 0, errors.New("no replacement pod of solo became Ready")
	case <-ctx.Done():
		return 0, "", 0, ctx.Err()
	}
	// Let connections run on until one reached the new pod (the kubectl
	// runtime may need seconds), then 200 ms more: an earlier connection
	// may still be waiting for its answer.
	var firstNew time.Time
	findNew := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range answers {
			if strings.Contains(a.body, rd.name) && (firstNew.IsZero() || a.first.Before(firstNew)) {
				firstNew = a.first
			}
		}
	}
	deadline := time.Now().Add(noAnswerWait)
	for findNew(); firstNew.IsZero() && time.Now().Before(deadline); findNew() {
		if err := measure.Sleep(ctx, 50*time.Millisecond); err != nil {
			return 0, "", 0, err
		}
	}
	if err := measure.Sleep(ctx, 200*time.Millisecond); err != nil {
		return 0, "", 0, err
	}
	stopReqs()
	wg.Wait()
	if err := <-delErr; err != nil {
		return 0, "", 0, err
	}
	firstNew = time.Time{}
	findNew()
	if firstNew.IsZero() {
		// A figure, not the end of the run: the row says it.
		r.log.Warn("no answer from the new pod within the wait", "pod", rd.name, "wait", noAnswerWait)
		latency, steps = noAnswer, "no answer from "+rd.name
	}
	// The harness must also back the new pod: wait so the next deletion
	// starts from a served pod.
	if err := r.cluster.WaitBacked(ctx, r.opts.namespace, "app=solo", 1); err != nil {
		return 0, "", 0, err
	}
	if r.rt == runtimeNative {
		// One `kpf logs` for both: the summary and kpf's times after Ready.
		if _, _, out, err := r.timed(ctx, "logs", "f001"); err != nil {
			steps = "kpf logs failed: " + err.Error()
		} else {
			r.log.Info("after the deletion", "events", r.summariseEvents(string(out), "deletion"))
			steps = stepsAfterReady(string(out), rd.name, rd.at)
		}
	}
	if latency == noAnswer {
		return noAnswer, steps, rd.at.Sub(del), nil
	}
	return firstNew.Sub(rd.at), steps, rd.at.Sub(del), nil
}

// noAnswerWait is how long deleteSolo waits for an answer from the new pod
// after it is Ready; noAnswer is the latency it reports when none came.
const (
	noAnswerWait = 30 * time.Second
	noAnswer     = time.Duration(-1)
)

// stepsAfterReady reads a forward's events (`kpf logs` output) and says
// when, relative to ready, kpf first chose pod and opened its tunnel.
func stepsAfterReady(out, pod string, ready time.Time) string {
	var parts []string
	for _, kind := range []string{"pod-switch", "tunnel-open"} {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || f[1] != kind || !strings.Contains(l, "pod="+pod) {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, f[0])
			if err != nil {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s", kind, fmtDur(at.Sub(ready))))
			break
		}
	}
	if len(parts) == 0 {
		return "no events of " + pod
	}
	return strings.Join(parts, ", ")
}

// summariseEvents counts the failure-related lines of `kpf logs` output
// and logs them.
func (r *run) summariseEvents(out, what string) string {
	counts := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[1] {
		case "conn-failed", "error", "tunnel-close", "pod-switch":
			counts[f[1]]++
			r.log.Info("agent event", "during", what, "event", l)
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	if len(parts) == 0 {
		return "agent events: none of conn-failed, error, tunnel-close, pod-switch"
	}
	return "agent events (`kpf logs`): " + strings.Join(parts, ", ")
}

func (r *run) clientset() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: r.kubecfg},
		&clientcmd.ConfigOverrides{CurrentContext: r.opts.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return kubernetes.NewForConfig(cfg)
}

// measureMany holds opts.many idle forwards in one agent: its RSS against
// a baseline of one forward, after one request through each, and once the
// tunnels closed idle.
func (r *run) measureMany(ctx context.Context) error {
	if err := r.use("many"); err != nil {
		return err
	}
	base := r.opts.basePort + 2000
	if err := r.writeWorkspace(r.targets, 1, base); err != nil {
		return err
	}
	defer r.destroy()
	if _, _, _, err := r.timed(ctx, "apply"); err != nil {
		return err
	}
	if err := measure.Sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	pid := r.agentPID(ctx)
	baseRSS, _, err := procMemory(pid)
	if err != nil {
		return err
	}
	n := r.opts.many
	if err := r.writeWorkspace(r.targets, n, base); err != nil {
		return err
	}
	wall, _, _, err := r.timed(ctx, "apply")
	if err != nil {
		return err
	}
	if p := r.agentPID(ctx); p != pid {
		return fmt.Errorf("the agent changed from pid %d to %d", pid, p)
	}
	if err := measure.Sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	idleRSS, _, err := procMemory(pid)
	if err != nil {
		return err
	}
	per := (idleRSS - baseRSS) / int64(n-1)
	r.add(fmt.Sprintf("%d idle forwards in one agent: agent RSS", n), fmtMB(idleRSS), "< 100 MiB",
		fmt.Sprintf("%s per idle forward above the agent's RSS with 1 forward (%s); `kpf apply` of the %d took %s", fmtKB(per), fmtMB(baseRSS), n-1, fmtDur(wall)))

	st, err := r.readState()
	if err != nil {
		return err
	}
	var ports []int
	for _, f := range st.Forwards {
		ports = append(ports, f.LocalPort)
	}
	if len(ports) != n {
		return fmt.Errorf("%d forwards in state, want %d", len(ports), n)
	}
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for i, p := range ports {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = waitServes(ctx, "127.0.0.1", p, 30*time.Second)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	took := time.Since(t0)
	usedRSS, _, err := procMemory(pid)
	if err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d forwards after one request through each: agent RSS", n), fmtMB(usedRSS), "≤ 2 MiB per used forward",
		fmt.Sprintf("%s per used forward above idle; %d tunnels open (one per pod, shared by the forwards to it); the %d requests took %s, 50 at a time",
			fmtKB((usedRSS-idleRSS)/int64(n)), len(r.targets), n, fmtDur(took)))

	if err := measure.Sleep(ctx, engineIdleTimeout+15*time.Second); err != nil {
		return err
	}
	afterRSS, _, err := procMemory(pid)
	if err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d forwards, tunnels closed idle: agent RSS", n), fmtMB(afterRSS), "near idle",
		fmt.Sprintf("%s after the last request (IdleTimeout 30 s); idle was %s; the agent's last release: %s", fmtDur(engineIdleTimeout+15*time.Second), fmtMB(idleRSS), r.lastRelease()))
	return nil
}

// lastRelease is the agent log's last "memory released" line, without its
// time and level, or "none".
func (r *run) lastRelease() string {
	dir, err := r.workspaceStateDir()
	if err != nil {
		return "none (" + err.Error() + ")"
	}
	b, err := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
	if err != nil {
		return "none (" + err.Error() + ")"
	}
	return lastReleaseIn(string(b))
}

// lastReleaseIn is the key=value part of the last "memory released ...:"
// line of an agent log, or "none".
func lastReleaseIn(log string) string {
	last := "none"
	for _, line := range strings.Split(log, "\n") {
		if _, after, ok := strings.Cut(line, "memory released"); ok {
			if _, kv, ok := strings.Cut(after, ":"); ok {
				last = strings.TrimSpace(kv)
			}
		}
	}
	return last
}

func fmtKB(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }

// measurePlanHyperfine times `kpf plan` with hyperfine when it is on PATH.
func (r *run) measurePlanHyperfine(ctx context.Context) error {
	hf, err := exec.LookPath("hyperfine")
	if err != nil {
		r.log.Info("no hyperfine: kpf plan timed by kpf-scale's own loop only")
		return nil
	}
	out := filepath.Join(r.scratch, r.rt+"-plan.json")
	cmd := exec.CommandContext(ctx, hf, "-N", "--warmup", "3", "--runs", "40", "--export-json", out, "--",
		r.kpf+" -C "+r.wsDir+" plan")
	cmd.Env = r.env()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hyperfine: %w\n%s", err, measure.Tail(string(b), 1000))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var res struct {
		Results []struct {
			Median, Min, Max, Mean, Stddev, User, System float64
		}
	}
	if err := json.Unmarshal(b, &res); err != nil || len(res.Results) == 0 {
		return fmt.Errorf("hyperfine's json: %v", err)
	}
	x := res.Results[0]
	sec := func(f float64) string { return fmtDur(time.Duration(f * float64(time.Second))) }
	r.add("`kpf plan` wall time (hyperfine, median)", sec(x.Median), "≤ 15 ms",
		fmt.Sprintf("40 runs after 3 warm-up, min %s, max %s; mean CPU user %s + sys %s", sec(x.Min), sec(x.Max), sec(x.User), sec(x.System)))
	return nil
}

// measureBinary reports the kpf binary's size, stripped and not, the
// modules that take most of it, and whether kubectl or cli-runtime are in.
func (r *run) measureBinary(ctx context.Context) {
	def := filepath.Join(r.scratch, "kpf-default")
	stripped := filepath.Join(r.scratch, "kpf-stripped")
	for _, b := range []struct {
		out  string
		args []string
	}{{def, nil}, {stripped, []string{"-ldflags", "-s -w"}}} {
		args := append([]string{"build", "-trimpath", "-o", b.out}, b.args...)
		if out, err := exec.CommandContext(ctx, "go", append(args, "./cmd/kpf")...).CombinedOutput(); err != nil {
			r.log.Warn("building kpf for its size", "error", err, "output", measure.Tail(string(out), 500))
			return
		}
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	r.notes = append(r.notes, fmt.Sprintf("kpf binary (`go build -trimpath ./cmd/kpf`): %s; stripped (`-ldflags \"-s -w\"`): %s",
		fmtMB(size(def)), fmtMB(size(stripped))))
	deps, err := exec.CommandContext(ctx, "go", "list", "-deps", "./cmd/kpf").Output()
	if err == nil {
		var bad []string
		for _, p := range strings.Fields(string(deps)) {
			if strings.HasPrefix(p, "k8s.io/kubectl") || strings.HasPrefix(p, "k8s.io/cli-runtime") {
				bad = append(bad, p)
			}
		}
		if len(bad) == 0 {
			r.notes = append(r.notes, "`go list -deps ./cmd/kpf`: neither k8s.io/kubectl nor k8s.io/cli-runtime")
		} else {
			r.notes = append(r.notes, "`go list -deps ./cmd/kpf` has "+strings.Join(bad, ", "))
		}
	}
	if top := moduleSizes(ctx, def); top != "" {
		r.notes = append(r.notes, "largest modules by code size (text symbols of `go tool nm -size`, by module of `go version -m`): "+top)
	}
}

// moduleSizes sums `go tool nm -size` symbol sizes by module (from `go
// version -m`) and names the largest ones.
func moduleSizes(ctx context.Context, bin string) string {
	vm, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	if err != nil {
		return ""
	}
	mods := []string{"runtime", "std"}
	for _, l := range strings.Split(string(vm), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "dep" || f[0] == "mod") {
			mods = append(mods, f[1])
		}
	}
	nm, err := exec.CommandContext(ctx, "go", "tool", "nm", "-size", bin).Output()
	if err != nil {
		return ""
	}
	sizes := map[string]int64{}
	var total int64
	for _, l := range strings.Split(string(nm), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || f[2] != "T" && f[2] != "t" {
			continue // code only: data and BSS symbols overlap sections
		}
		name := strings.Join(f[3:], " ")
		total += n
		sizes[moduleOf(name, mods)] += n
	}
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range sizes {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return int(b.v - a.v) })
	var parts []string
	for _, x := range all[:min(8, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %s (%.0f %%)", x.k, fmtMB(x.v), 100*float64(x.v)/float64(total)))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" of %s of code", fmtMB(total))
}

// moduleOf maps a symbol name to the longest module path it starts with;
// names whose first path element has no dot are the standard library.
func moduleOf(sym string, mods []string) string {
	best := ""
	for _, m := range mods {
		if strings.HasPrefix(sym, m+"/") || strings.HasPrefix(sym, m+".") {
			if len(m) > len(best) {
				best = m
			}
		}
	}
	if best != "" && best != "runtime" && best != "std" {
		return best
	}
	// The package path ends at the first dot after the last slash.
	slash := strings.LastIndexByte(sym, '/')
	pkg := sym
	if i := strings.IndexByte(sym[slash+1:], '.'); i >= 0 {
		pkg = sym[:slash+1+i]
	}
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") || strings.HasPrefix(sym, "go:") || strings.HasPrefix(sym, "type:") {
		return "std (incl. runtime, type data)"
	}
	return "other"
}

// measureAgentAlone waits until the tunnels closed idle, then measures the
// agent's CPU with no watch running: what the forwards cost by themselves.
func (r *run) measureAgentAlone(ctx context.Context, pid int) error {
	if err := measure.Sleep(ctx, engineIdleTimeout+6*time.Second); err != nil {
		return err
	}
	window := min(r.opts.idle, 30*time.Second)
	t0, c0 := time.Now(), ticksOf(pid)
	if err := measure.Sleep(ctx, window); err != nil {
		return err
	}
	secs := float64(ticksOf(pid)-c0) / measure.ClockTicks
	took := time.Since(t0)
	what := "no health block: no tunnel open (closed idle), no `kpf` asking: informers and listeners only"
	if r.opts.healthBlocks {
		what = fmt.Sprintf("health blocks: every forward checked every 5 s while idle (one check per pod port, shared: %d tunnels kept open), no `kpf` asking", len(r.targets))
	}
	r.add(fmt.Sprintf("idle %s without a watch: CPU of the agent", fmtDur(window)),
		fmt.Sprintf("%.2f s (%.2f%% of one core)", secs, 100*secs/took.Seconds()), "≤ 0.5% of one core", what)
	return nil
}
