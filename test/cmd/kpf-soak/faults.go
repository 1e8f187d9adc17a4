//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kpf-dev/kpf/test/internal/measure"
)

// How long the timed faults last.
const (
	apiDown    = 3 * time.Second  // kube-apiserver stopped
	freezeFor  = 5 * time.Second  // kwok SIGSTOPped
	floodHold  = 5 * time.Second  // the flood's connections held open
	slowStall  = 3 * time.Second  // a write blocked this long: the buffers are full
	slowMax    = 64 << 20         // the slow reader sends at most this much
	slowHold   = 2 * time.Second  // then keeps it unread this long
	agentGone  = 10 * time.Second // a killed agent disappears within this
	floodDials = 50               // dials of the flood at a time
)

// fault is one way of breaking the world. inject breaks it and returns once
// the fault is over (the pod replaced, the API server back, kwok thawed, the
// connections released), saying what it hit; an error is the harness's.
type fault struct {
	name   string
	inject func(ctx context.Context, s *soak, round int) (target string, err error)
	// Goals beyond every fault's (zero corrupted bytes, recovery within
	// the bound): no failed request, no idle connection cut.
	noFailures, noIdleCuts bool
}

// faults in their default order: the ones kpf must ride out without a
// failure first, the agent kill (which needs a restarted agent) last.
var faults = []fault{
	{name: "pod-delete", inject: deletePod, noFailures: true},
	{name: "rollout", inject: rollout, noFailures: true},
	{name: "slow-reader", inject: slowReader, noFailures: true, noIdleCuts: true},
	{name: "flood", inject: flood, noIdleCuts: true},
	{name: "kubelet-freeze", inject: freezeKubelet},
	{name: "api-restart", inject: restartAPI},
	{name: "agent-kill", inject: killAgent},
}

func faultNames() []string {
	var names []string
	for _, f := range faults {
		names = append(names, f.name)
	}
	return names
}

// faultByName is the fault called name; the zero fault if none is.
func faultByName(name string) fault {
	for _, f := range faults {
		if f.name == name {
			return f
		}
	}
	return fault{}
}

// deletePod deletes one pod of a deployment (round robin) and waits for its
// replacement: the other replica serves meanwhile.
func deletePod(ctx context.Context, s *soak, round int) (string, error) {
	dep := deployment(round % s.opts.deployments)
	pods, err := s.cluster.Pods(ctx, namespace, "app="+dep)
	if err != nil || len(pods) == 0 {
		return dep, fmt.Errorf("pods of %s: %v %w", dep, pods, err)
	}
	pod := pods[round%len(pods)]
	if err := s.cluster.DeletePod(ctx, namespace, pod); err != nil {
		return pod, err
	}
	return "pod " + pod, s.cluster.WaitBacked(ctx, namespace, "app="+dep, 2)
}

// rollout restarts a deployment (round robin, not the one pod-delete hits
// in the same round) and waits until only new pods serve.
func rollout(ctx context.Context, s *soak, round int) (string, error) {
	dep := deployment((round + 1) % s.opts.deployments)
	return "deployment " + dep, s.cluster.RolloutRestart(ctx, namespace, dep)
}

// restartAPI stops kube-apiserver for apiDown and starts it again (which
// also restarts the controller-manager, scheduler and kwok).
func restartAPI(ctx context.Context, s *soak, _ int) (string, error) {
	target := fmt.Sprintf("kube-apiserver down %s", apiDown)
	if err := s.cluster.StopAPIServer(ctx); err != nil {
		return target, err
	}
	if err := measure.Sleep(ctx, apiDown); err != nil {
		return target, err
	}
	return target, s.cluster.StartAPIServer(ctx)
}

// freezeKubelet stops kwok, which carries every port-forward stream, for
// freezeFor.
func freezeKubelet(ctx context.Context, s *soak, _ int) (string, error) {
	target := fmt.Sprintf("kwok stopped %s", freezeFor)
	if err := s.cluster.FreezeKwok(); err != nil {
		return target, err
	}
	serr := measure.Sleep(ctx, freezeFor)
	return target, errors.Join(serr, s.cluster.ThawKwok())
}

// killAgent kills the serving agent with SIGKILL, after checking it is kpf's
// own (its executable is the kpf binary the soak runs), and waits until it
// is gone.
func killAgent(ctx context.Context, s *soak, _ int) (string, error) {
	pid := s.agentPID(ctx)
	if pid == 0 {
		return "agent", errors.New("no agent answers")
	}
	target := fmt.Sprintf("agent pid %d", pid)
	if err := runsBinary(pid, s.kpf); err != nil {
		return target, fmt.Errorf("not killing pid %d: %w", pid, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return target, fmt.Errorf("killing the agent: %w", err)
	}
	for deadline := time.Now().Add(agentGone); ; {
		if st := procState(pid); st == "" || st == "Z" {
			return target, nil
		}
		if time.Now().After(deadline) {
			return target, fmt.Errorf("agent pid %d still runs %s after SIGKILL", pid, agentGone)
		}
		if err := measure.Sleep(ctx, 5*time.Millisecond); err != nil {
			return target, err
		}
	}
}

// flood opens opts.floodConns connections through one forward, holds them
// open for floodHold and closes them all.
func flood(ctx context.Context, s *soak, round int) (string, error) {
	fwd := (round*7 + 3) % len(s.ports)
	var mu sync.Mutex
	var conns []net.Conn
	var firstErr error
	sem := make(chan struct{}, floodDials)
	var wg sync.WaitGroup
	for range s.opts.floodConns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var d net.Dialer
			c, err := d.DialContext(dctx, "tcp", fmt.Sprintf("127.0.0.1:%d", s.ports[fwd]))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpOr(firstErr, err)
				return
			}
			conns = append(conns, c)
		})
	}
	wg.Wait()
	target := fmt.Sprintf("f%03d: %d of %d connections opened, held %s", fwd, len(conns), s.opts.floodConns, floodHold)
	if firstErr != nil {
		target += " (first error: " + firstErr.Error() + ")"
	}
	err := measure.Sleep(ctx, floodHold)
	for _, c := range conns {
		c.Close()
	}
	return target, err
}

// slowReader sends through one forward until its writes block (the echo is
// never read, so every buffer on the way fills) or slowMax is sent, keeps
// it so for slowHold, and closes.
func slowReader(ctx context.Context, s *soak, round int) (string, error) {
	fwd := (round*7 + 5) % len(s.ports)
	target := fmt.Sprintf("f%03d", fwd)
	conn, _, err := dialGreeted(ctx, s.ports[fwd])
	if err != nil {
		return target, fmt.Errorf("connecting the slow reader: %w", err)
	}
	defer conn.Close()
	sent, blocked := 0, false
	chunk := make([]byte, 64<<10)
	for sent < slowMax && ctx.Err() == nil {
		_ = conn.SetWriteDeadline(time.Now().Add(slowStall))
		n, err := conn.Write(chunk)
		sent += n
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			blocked = true
			break
		}
		if err != nil {
			return fmt.Sprintf("%s: cut after %s", target, fmtMB(int64(sent))), nil
		}
	}
	how := "all sent"
	if blocked {
		how = fmt.Sprintf("then writes blocked %s", slowStall)
	}
	return fmt.Sprintf("%s: %s sent, never read, %s", target, fmtMB(int64(sent)), how), measure.Sleep(ctx, slowHold)
}

// runsBinary checks that pid's executable is bin.
func runsBinary(pid int, bin string) error {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Errorf("reading its executable: %w", err)
	}
	want, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", bin, err)
	}
	if exe != want {
		return fmt.Errorf("it runs %s, not %s", exe, want)
	}
	return nil
}

// cmpOr is a if not nil, else b.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// procState is the state letter of pid (R, S, T, Z…), "" when it is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
