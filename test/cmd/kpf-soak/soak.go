//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/state"
	"github.com/kpf-dev/kpf/test/cluster"
	"github.com/kpf-dev/kpf/test/internal/measure"
	"github.com/kpf-dev/kpf/test/internal/measure/kpfstate"
)

// namespace holds the soak's echo deployments.
const namespace = "soak"

// soak is one run: the cluster, the workspace, the traffic and the rows of
// the report, one per fault.
type soak struct {
	opts     options
	log      hclog.Logger
	scratch  string // temp dir: cluster state, workspace, kpf state, binary
	wsDir    string
	stateDir string
	kpf      string
	cluster  *cluster.Cluster
	ports    []int // local port of forward i, as kpf chose it
	traffic  *traffic
	rows     []*result
	watch    *measure.Watch // with --watch, once it watches
}

// main sets the world up, soaks it and tears it down whatever happened.
func (s *soak) main(ctx context.Context) (err error) {
	if s.scratch, err = os.MkdirTemp("", "kpf-soak-"); err != nil {
		return fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer os.RemoveAll(s.scratch)
	s.wsDir, s.stateDir = filepath.Join(s.scratch, "ws"), filepath.Join(s.scratch, "state")
	for _, d := range []string{s.wsDir, s.stateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if s.kpf, err = measure.BuildKpf(ctx, s.opts.kpf, s.scratch); err != nil {
		return err
	}
	s.log.Info("starting the local control plane")
	c, err := cluster.Start(ctx, cluster.Options{Log: s.log.Named("cluster"), StateDir: filepath.Join(s.scratch, "cluster")})
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	s.cluster = c
	defer measure.Cleanup(s.log, "stopping the cluster", time.Minute, c.Stop)
	if err := s.deploy(ctx); err != nil {
		return err
	}
	if err := s.writeWorkspace(); err != nil {
		return err
	}
	defer s.destroy()
	stopServing, err := s.serve(ctx)
	if err != nil {
		return err
	}
	defer stopServing()
	if s.opts.keepLogs != "" {
		defer s.keepLogs()
	}
	if err := s.readPorts(); err != nil {
		return err
	}
	if err := waitAllServe(ctx, s.ports, time.Minute); err != nil {
		return fmt.Errorf("after apply: %w", err)
	}
	s.log.Info("every forward serves", "forwards", len(s.ports), "agent", s.agentPID(ctx))
	return s.soakLoop(ctx)
}

// deploy creates the namespace and the 2-replica echo deployments.
func (s *soak) deploy(ctx context.Context) error {
	if err := s.cluster.CreateNamespace(ctx, namespace); err != nil {
		return err
	}
	for i := range s.opts.deployments {
		if err := s.cluster.DeployEcho(ctx, namespace, deployment(i), 2); err != nil {
			return err
		}
	}
	s.log.Info("deployed", "deployments", s.opts.deployments, "replicas", 2)
	return nil
}

func deployment(i int) string { return fmt.Sprintf("echo-%d", i) }

// soakLoop runs the traffic, a baseline, the faults in rotation until the
// duration is spent (each at least once), and the final checks.
func (s *soak) soakLoop(ctx context.Context) error {
	base := &result{fault: "baseline", start: time.Now()}
	s.rows = append(s.rows, base)
	s.traffic = newTraffic(s.ports, s.opts, s.log.Named("traffic"), base)
	stopTraffic := s.traffic.start(ctx)
	defer stopTraffic()
	if err := s.traffic.reopenIdle(ctx); err != nil {
		return err
	}
	if err := measure.Sleep(ctx, s.opts.gap); err != nil {
		return err
	}
	s.measure(ctx, base)
	s.log.Info("baseline", "agent_rss", fmtMB(base.rss), "agent_fds", base.fds)
	deadline := time.Now().Add(s.opts.duration)
	for i := 0; i < len(s.opts.faults) || time.Now().Before(deadline); i++ {
		f := faultByName(s.opts.faults[i%len(s.opts.faults)])
		ok, err := s.runFault(ctx, f, i/len(s.opts.faults))
		if err != nil {
			return err
		}
		if !ok {
			s.log.Error("a fault did not recover: no more faults", "fault", f.name)
			break
		}
	}
	return s.finish(ctx)
}

// runFault injects f, waits until every forward serves again, reopens the
// idle connections it cut and measures the agent after a calm gap. It
// reports whether the forwards recovered; an error is the harness's own.
func (s *soak) runFault(ctx context.Context, f fault, round int) (bool, error) {
	row := &result{fault: f.name, start: time.Now()}
	s.rows = append(s.rows, row)
	s.traffic.setPhase(row)
	s.log.Info("fault", "fault", f.name, "round", round)
	target, err := f.inject(ctx, s, round)
	row.target, row.took = target, time.Since(row.start)
	if err != nil {
		return false, fmt.Errorf("fault %s: %w", f.name, err)
	}
	ended := time.Now()
	if err := waitAllServe(ctx, s.ports, s.opts.recoverWithin); err != nil {
		row.note = err.Error()
		s.measure(ctx, row)
		return false, ctx.Err()
	}
	row.recovered, row.ok = time.Since(ended), true
	s.log.Info("recovered", "fault", f.name, "after", row.recovered)
	if err := s.traffic.reopenIdle(ctx); err != nil {
		return false, err
	}
	if err := measure.Sleep(ctx, s.opts.gap); err != nil {
		return false, err
	}
	// Connections of a deleted pod may drain for a while: reopen the ones
	// cut since.
	if err := s.traffic.reopenIdle(ctx); err != nil {
		return false, err
	}
	s.measure(ctx, row)
	return true, nil
}

// finish is the last row: the agent after --settle of calm traffic, then every idle
// connection checked, then the traffic stopped.
func (s *soak) finish(ctx context.Context) error {
	end := &result{fault: "end", start: time.Now()}
	s.rows = append(s.rows, end)
	s.traffic.setPhase(end)
	if err := measure.Sleep(ctx, s.opts.settle); err != nil {
		return err
	}
	s.measure(ctx, end)
	checked, failed := s.traffic.checkIdle(ctx)
	end.idleChecked, end.idleFailed = checked, failed
	return nil
}

// measure records the serving agent's RSS and open fds in row.
func (s *soak) measure(ctx context.Context, row *result) {
	row.pid = s.agentPID(ctx)
	if row.pid == 0 {
		return
	}
	row.rss, _ = measure.RSS(row.pid)
	row.fds, _ = procFDs(row.pid)
}

// writeWorkspace writes a kpf.hcl of the native forwards f000… cycling
// through the echo services, with TCP health checks (HTTP on every third).
func (s *soak) writeWorkspace() error {
	var b strings.Builder
	fmt.Fprintf(&b, `kpf {
  name    = "soak"
  runtime = "native"
}

defaults {
  context   = %q
  namespace = %q
  address   = "127.0.0.1"
  health {
    tcp      = true
    interval = "5s"
  }
}
`, cluster.ContextName, namespace)
	for i := range s.opts.forwards {
		fmt.Fprintf(&b, "\nforward \"f%03d\" {\n  target      = \"service/%s\"\n  local_port  = %d\n  remote_port = 80\n",
			i, deployment(i%s.opts.deployments), s.opts.basePort+i)
		if i%3 == 0 {
			b.WriteString("  health {\n    http = \"/healthz\"\n  }\n")
		}
		b.WriteString("}\n")
	}
	return os.WriteFile(filepath.Join(s.wsDir, "kpf.hcl"), []byte(b.String()), 0o600)
}

// readPorts reads the local port of every forward from kpf's state.
func (s *soak) readPorts() error {
	dir, err := s.workspaceStateDir()
	if err != nil {
		return err
	}
	st, err := state.Open(dir)
	if err != nil {
		return fmt.Errorf("opening the state: %w", err)
	}
	f, err := st.Load()
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	s.ports = make([]int, s.opts.forwards)
	for i := range s.ports {
		fw, ok := f.Forwards[fmt.Sprintf("f%03d", i)]
		if !ok {
			return fmt.Errorf("forward f%03d is not in kpf's state", i)
		}
		s.ports[i] = fw.LocalPort
	}
	return nil
}

func (s *soak) workspaceStateDir() (string, error) {
	return kpfstate.Dir(s.stateDir, s.wsDir)
}

// agentPID is the pid the workspace's agent gives in its hello, 0 when
// none answers.
func (s *soak) agentPID(ctx context.Context) int {
	return kpfstate.AgentPID(ctx, s.stateDir, s.wsDir)
}

// env is the environment of every kpf run.
func (s *soak) env() []string {
	return measure.Env(s.cluster.Kubeconfig, s.stateDir)
}

func (s *soak) kpfCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.kpf, append([]string{"-C", s.wsDir}, args...)...)
	cmd.Env = s.env()
	return cmd
}

// serve runs `kpf apply`, or with --watch starts `kpf apply --watch` and
// waits until it watches; stop ends the watch.
func (s *soak) serve(ctx context.Context) (stop func(), err error) {
	if !s.opts.watch {
		if out, err := s.kpfCmd(ctx, "apply").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("kpf apply: %w\n%s", err, measure.Tail(string(out), 2000))
		}
		return func() {}, nil
	}
	// The watch's own context: it outlives a cancelled run until stop.
	wctx, cancel := context.WithCancel(context.Background())
	cmd := s.kpfCmd(wctx, "--log-level", "info", "apply", "--watch")
	if s.watch, err = measure.StartWatch(ctx, cmd, cancel, 2*time.Minute, s.log); err != nil {
		return nil, err
	}
	return s.watch.Stop, nil
}

// keepLogs copies the agent's logs, the watch's stderr and the control
// plane's logs (in cluster/) to --keep-logs.
func (s *soak) keepLogs() {
	dir, err := s.workspaceStateDir()
	if err == nil {
		err = os.MkdirAll(s.opts.keepLogs, 0o700)
	}
	if err == nil {
		err = os.CopyFS(s.opts.keepLogs, os.DirFS(filepath.Join(dir, "logs")))
	}
	if err == nil && s.opts.watch {
		err = os.WriteFile(filepath.Join(s.opts.keepLogs, "watch.log"), []byte(s.watch.Stderr()), 0o600)
	}
	if err == nil {
		err = s.keepEvents()
	}
	if err == nil { // kwok's, the API server's…: a fault that did not recover may be theirs
		err = s.cluster.CopyLogs(filepath.Join(s.opts.keepLogs, "cluster"))
	}
	if err != nil {
		s.log.Warn("keeping the logs", "error", err)
		return
	}
	s.log.Info("logs kept", "dir", s.opts.keepLogs)
}

// keepEvents writes every forward's recent events (`kpf logs NAME`) to
// events/NAME.log under --keep-logs.
func (s *soak) keepEvents() error {
	dir := filepath.Join(s.opts.keepLogs, "events")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range s.opts.forwards {
		name := fmt.Sprintf("f%03d", i)
		out, err := s.kpfCmd(ctx, "logs", name).CombinedOutput()
		if err != nil {
			out = fmt.Appendf(out, "\nkpf logs %s: %v\n", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".log"), out, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// destroy stops every forward (and so the agent) with `kpf destroy`.
func (s *soak) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := s.kpfCmd(ctx, "destroy").CombinedOutput(); err != nil {
		s.log.Warn("kpf destroy", "error", err, "output", measure.Tail(string(out), 500))
	}
}
