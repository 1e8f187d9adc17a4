package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

type runOptions struct {
	Only []string
	Keep bool
	Wait time.Duration
}

func (a *app) runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--only NAME...] [--keep] -- CMD [ARGS...]",
		Short: "Bring up the forwards, run a command with kpf env's environment, stop what it started",
		Long: `run applies what CMD needs (every forward of the spec, or those named with
--only), waits until they serve (as apply --wait does), then runs CMD with
the environment of 'kpf env' added to its own, and exits with CMD's status.
Signals reach CMD: SIGTERM and SIGHUP are passed on, and so is SIGINT (on a
terminal, Ctrl-C reaches CMD directly). kpf's own lines go to stderr.

When CMD ends, run stops the forwards it started itself — never those that
were already running, and never those another 'kpf run' of the workspace
still uses (the last run that uses a forward stops it). --keep leaves them
running.`,
		Example: `  kpf run -- go test ./integration/...
  kpf run --only db -- psql "$DATABASE_URL"
  kpf run --keep -- ./seed-data.sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runWith(cmd.Context(), args, o)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringArrayVar(&o.Only, "only", nil, "bring up only the forward `NAME` (repeatable)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the forwards run started running when CMD ends")
	cmd.Flags().DurationVar(&o.Wait, "wait", defaultWait, "how long to wait for the forwards to serve before giving up (`DURATION`)")
	_ = cmd.RegisterFlagCompletionFunc("only", a.completeForwards(-1))
	return cmd
}

// runLease is what one kpf run holds, in runs/ of the state folder: the
// forwards it uses and those it must stop when it ends. Another run's
// forwards are handed over to it rather than stopped while it uses them.
type runLease struct {
	PID       int      `json:"pid"`
	StartTime uint64   `json:"start_time"`
	Uses      []string `json:"uses"`
	Started   []string `json:"started"`
	path      string
}

func (a *app) runWith(ctx context.Context, argv []string, o runOptions) error {
	errOut := a.io.Err
	s, err := a.openSession(ctx, false)
	if err != nil {
		return err
	}
	unlock, err := a.lockSession(ctx, s, "")
	if err != nil {
		return err
	}
	defer unlock()

	actual := s.observe(ctx)
	p := reconcile.Diff(s.forwards, actual, s.ports)
	p.Workspace = s.ws.Name
	if len(o.Only) > 0 {
		if p, err = onlyChanges(p, o.Only); err != nil {
			return err
		}
	}
	if p.Changes, err = neededChanges(p.Changes, o.Only); err != nil {
		return err
	}
	lease := newLease(p, actual)
	if err := writeLease(s.store, lease); err != nil {
		return err
	}
	cleanup := func() {
		a.endRun(context.WithoutCancel(ctx), s, lease, o.Keep)
	}
	if p.HasChanges() {
		res := a.applier(s, views.NewProgress(errOut)).Apply(ctx, p)
		fmt.Fprintln(errOut, views.SummaryOf(res, len(p.Errors)))
		if res.SaveErr != nil || res.Failed > 0 {
			unlock()
			cleanup()
			if res.SaveErr != nil {
				return res.SaveErr
			}
			return fmt.Errorf("%d forwards did not start; not running %s", res.Failed, termtext.Escape(argv[0]))
		}
	}
	if err := a.keepEnvFile(s); err != nil {
		fmt.Fprintf(errOut, "Warning: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
	}
	unlock()
	if err := a.waitServing(ctx, s, lease.Uses, o.Wait); err != nil {
		cleanup()
		return err
	}
	eps := a.endpoints(s.ws, s.state) // as kpf env: every forward that runs
	vars, err := envVars(s.ws, eps, a.evalOutputs(eps), nil, func(msg string) { a.log.Debug("kpf run", "env", msg) })
	if err != nil {
		cleanup()
		return err
	}
	code, err := a.runChild(argv, vars)
	cleanup()
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCodeError{code: code}
	}
	return nil
}

// neededChanges is what CMD needs of changes: never a stop of a forward
// the spec dropped. A forward named by --only (only) must be enabled.
func neededChanges(changes []reconcile.Change, only []string) ([]reconcile.Change, error) {
	kept := changes[:0:0]
	for _, c := range changes {
		if c.Desired != nil && c.Desired.Enabled {
			kept = append(kept, c)
		} else if slices.Contains(only, c.Name) {
			return nil, fmt.Errorf("--only %s: the forward is disabled or not in the spec", termtext.Escape(c.Name))
		}
	}
	return kept, nil
}

// newLease is this run's lease: the forwards of p it uses, and those it
// starts (not running now, in actual).
func newLease(p reconcile.Plan, actual reconcile.Actual) *runLease {
	lease := &runLease{PID: os.Getpid()}
	if st, err := proc.StartTime(lease.PID); err == nil {
		lease.StartTime = st
	}
	for _, c := range p.Changes {
		lease.Uses = append(lease.Uses, c.Name)
		if c.Action != reconcile.NoOp && !actual[c.Name].Alive {
			lease.Started = append(lease.Started, c.Name)
		}
	}
	return lease
}

// runChild runs argv with vars added to kpf's environment and returns its
// exit status (128+N when signal N ended it). While it runs, SIGINT,
// SIGTERM, SIGHUP and SIGQUIT are passed on to it instead of stopping kpf;
// a SIGINT while kpf's stdin is a terminal is not, since Ctrl-C reached
// the child (in the same foreground process group) already.
func (a *app) runChild(argv []string, vars []envVar) (int, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = os.Environ()
	for _, v := range vars {
		c.Env = append(c.Env, v.Name+"="+v.Value)
	}
	c.Stdin, c.Stdout, c.Stderr = a.io.In, a.io.Out, a.io.Err
	terminal := false
	if f, ok := a.io.In.(*os.File); ok {
		c.Stdin = f
		terminal = isatty.IsTerminal(f.Fd())
	}
	sigs := make(chan os.Signal, 8)
	a.passSignals.Store(true)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer func() {
		signal.Stop(sigs)
		a.passSignals.Store(false)
	}()
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("running %s: %w", termtext.Escape(argv[0]), err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == os.Interrupt && terminal {
					continue
				}
				a.log.Debug("passing a signal on", "signal", sig)
				_ = c.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("running %s: %w", termtext.Escape(argv[0]), err)
}

// endRun ends a kpf run: under the lock, its lease goes; each forward it
// started is handed over to another live run that uses it, else stopped
// (unless keep). The env file follows.
func (a *app) endRun(ctx context.Context, s *session, lease *runLease, keep bool) {
	unlock, err := a.lock(ctx, s.store)
	if err != nil {
		fmt.Fprintf(a.io.Err, "Warning: not stopping the forwards kpf run started: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
		return
	}
	defer unlock()
	// Another run that ended may have handed its forwards over to this one.
	if b, err := os.ReadFile(lease.path); err == nil {
		var mine runLease
		if json.Unmarshal(b, &mine) == nil {
			for _, n := range mine.Started {
				if !slices.Contains(lease.Started, n) {
					lease.Started = append(lease.Started, n)
				}
			}
		}
	}
	others := readLeases(s.store, lease)
	if err := os.Remove(lease.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		a.log.Warn("removing the run's lease", "error", err)
	}
	if keep {
		return
	}
	st, err := s.store.Load()
	if err != nil {
		fmt.Fprintf(a.io.Err, "Warning: not stopping the forwards kpf run started: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
		return
	}
	p := reconcile.Plan{Workspace: st.Name}
	for _, name := range lease.Started {
		if o := handOver(others, name); o != nil {
			o.Started = append(o.Started, name)
			if err := writeLease(s.store, o); err != nil {
				a.log.Warn("handing a forward over to another kpf run", "forward", name, "error", err)
			}
			a.log.Debug("forward left to another kpf run", "forward", name, "pid", o.PID)
			continue
		}
		prior, ok := st.Forwards[name]
		if !ok {
			continue
		}
		p.Changes = append(p.Changes, reconcile.Change{Name: name, Action: reconcile.Stop, Reason: "kpf run ended", Port: prior.LocalPort, Prior: &prior})
	}
	if len(p.Changes) > 0 {
		applier := &reconcile.Applier{
			Runtime: s.rt, Store: s.store, State: st, Log: a.log.Named("run"),
			Hook: views.NewProgress(a.io.Err), MaxParallel: spec.DefaultMaxParallel,
		}
		res := applier.Apply(ctx, p)
		if res.Failed > 0 {
			fmt.Fprintf(a.io.Err, "Warning: %d forwards kpf run started did not stop\n", res.Failed)
		}
	}
	if len(st.Forwards) == 0 {
		a.stopIdleAgent(ctx, s.store)
		if st.EnvFile != "" {
			if err := removeEnvFile(st.EnvFile); err == nil {
				st.EnvFile = ""
				_ = s.store.Save(st)
			}
		}
	} else if err := a.writeEnvFile(s.ws, st); err != nil {
		a.log.Warn("keeping the env file current", "error", err)
	}
}

func handOver(others []*runLease, name string) *runLease {
	for _, o := range others {
		if slices.Contains(o.Uses, name) {
			return o
		}
	}
	return nil
}

func leaseDir(store *state.Store) string { return filepath.Join(store.Dir(), "runs") }

func writeLease(store *state.Store, l *runLease) error {
	dir := leaseDir(store)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recording the run: %w", err)
	}
	if l.path == "" {
		l.path = filepath.Join(dir, strconv.Itoa(l.PID)+".json")
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("recording the run: %w", err)
	}
	if err := safefs.WriteFileAtomic(l.path, b); err != nil {
		return fmt.Errorf("recording the run: %w", err)
	}
	return nil
}

// readLeases returns the leases of the other kpf runs still running; those
// of runs that are gone are removed.
func readLeases(store *state.Store, self *runLease) []*runLease {
	dir := leaseDir(store)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []*runLease
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".json") || path == self.path {
			continue
		}
		b, err := os.ReadFile(path)
		var l runLease
		if err != nil || json.Unmarshal(b, &l) != nil {
			continue
		}
		l.path = path
		if !proc.Alive(proc.ID{PID: l.PID, StartTime: l.StartTime}) {
			_ = os.Remove(path)
			continue
		}
		out = append(out, &l)
	}
	return out
}
