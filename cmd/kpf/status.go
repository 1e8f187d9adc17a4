package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/state"
)

type statusOptions struct {
	JSON  bool
	All   bool
	Stats bool
	Watch bool
}

func (a *app) statusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the forwards: address, target, state, health, uptime, restarts, last error",
		Long: `status observes every forward of the workspace now: whether it is served
(by the agent; for the kubectl runtime, by a live process that is still the one
kpf started), and what its health check sees. It changes nothing and takes no
lock. A forward is healthy only while a check through it passed within its
last interval + timeout; a native forward without a health block that nobody
uses is not checked, and shows "idle" with the age of its last check ("idle
4m"); adding a health block replaces it ('kpf plan' says so), checked since.

When the spec is missing or does not load, or the kubeconfig is missing or
unreadable, status still shows the forwards kpf runs, from its state alone,
and says so.

With --watch (on a terminal) it shows the live table of 'kpf apply --watch',
read-only, refreshed every second from the state and the runtime: for a
workspace applied elsewhere. q quits.`,
		Example: `  kpf status
  kpf status --json
  kpf status --all      # every workspace kpf has state for
  kpf status --stats    # probe cache and timing figures
  kpf status --watch    # live, read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Watch && (o.JSON || o.All || o.Stats):
				return errors.New("--watch cannot be combined with --json, --all or --stats")
			case o.Watch:
				return a.statusWatch(cmd.Context(), cmd.OutOrStdout())
			case o.All:
				return a.statusAll(cmd.Context(), cmd.OutOrStdout(), o)
			}
			return a.status(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.All, "all", false, "show every workspace that has state, not only this one")
	cmd.Flags().BoolVar(&o.Stats, "stats", false, "also show probe-cache hits and misses and timings")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "show the live table, refreshed every second, until q")
	return cmd
}

func (a *app) status(ctx context.Context, out io.Writer, o statusOptions) error {
	t0 := time.Now()
	ws, loader, diags, err := a.loadSpecQuietly()
	if err != nil {
		return err
	}
	if len(diags) > 0 {
		a.writeDiagnostics(loader, diags)
	}
	if diags.HasErrors() {
		return a.statusFromState(ctx, out, o, specProblem(diags), errReported)
	}
	s, err := a.sessionFor(ctx, ws, true)
	if err != nil {
		// What runs is in the state: a kubeconfig that is gone says
		// nothing about it (destroy works without one too).
		if why := a.kubeconfigProblem(); why != "" {
			return a.statusFromState(ctx, out, o, why, nil)
		}
		return err
	}
	loaded := time.Now()
	actual := s.observe(ctx)
	observed := time.Now()
	rows := reconcile.StatusRows(s.all, actual, time.Now())
	unplannable(rows, s.unplannable)
	for _, e := range s.unplannable {
		fmt.Fprintf(a.io.Err, "Note: forward.%s cannot be planned: %s\n", termtext.Escape(e.Name), termtext.Escape(e.Error))
	}
	st := s.ports.Stats()
	stats := views.StatusStats{
		SpecLoad:     loaded.Sub(t0).Round(time.Microsecond).String(),
		Observe:      observed.Sub(loaded).Round(time.Microsecond).String(),
		ProbeHits:    st.Hits,
		ProbeMisses:  st.Misses,
		Forwards:     len(s.forwards),
		StateForward: len(s.state.Forwards),
	}
	var shown *views.StatusStats
	if o.Stats {
		shown = &stats
	}
	if len(rows) == 0 && !o.JSON {
		fmt.Fprintln(out, "No forwards in the spec or the state.")
	}
	return a.statusView(out, o).Forwards(rows, shown)
}

// statusView is the status view o asks for: JSON or a table.
func (a *app) statusView(out io.Writer, o statusOptions) views.Status {
	return views.NewStatus(out, o.JSON, a.color(out), a.getenv("HOME"))
}

// statusFromState is status when the spec cannot be used (moved away,
// broken, or no kubeconfig to resolve its contexts): the forwards of the
// state, observed without probes (no spec says how), with a one-line note
// on stderr saying why. With no forwards in the state, status returns
// noneErr if it is not nil (the spec's diagnostics, already shown, are the
// answer).
func (a *app) statusFromState(ctx context.Context, out io.Writer, o statusOptions, why string, noneErr error) error {
	store, err := a.workspaceView()
	if err != nil {
		return err
	}
	st, err := store.Load()
	if err != nil {
		return err
	}
	if len(st.Forwards) == 0 && noneErr != nil {
		return noneErr
	}
	a.hide(nil, st)
	obs := &reconcile.Observer{Runtime: a.runtimeFor(store)}
	actual := obs.Observe(ctx, st, nil)
	rows := reconcile.StatusRows(nil, actual, time.Now())
	stateOnly(rows, actual)
	fmt.Fprintf(a.io.Err, "Note: %s; showing the forwards kpf runs, from its state alone.\n", why)
	if len(rows) == 0 && !o.JSON {
		fmt.Fprintln(out, "No forwards in the state.")
	}
	return a.statusView(out, o).Forwards(rows, nil)
}

// kubeconfigProblem says in a few words (one line) why the kubeconfig
// cannot resolve any context — it is missing, unreadable or has none — or
// "" when it can.
func (a *app) kubeconfigProblem() string {
	src := a.kubeconfigSource()
	c, err := kubeconfig.Load(src)
	switch {
	case err != nil:
		return "the kubeconfig cannot be read (" + termtext.Escape(err.Error()) + ")"
	case len(c.Contexts()) == 0:
		return termtext.Escape(src.NoContexts())
	}
	return ""
}

// unplannable puts the error of each forward that cannot be planned into
// its row's last error.
func unplannable(rows []reconcile.StatusRow, errs []reconcile.ForwardError) {
	for _, e := range errs {
		for i := range rows {
			if rows[i].Name == e.Name {
				rows[i].LastError = e.Error
			}
		}
	}
}

// specProblem says in a few words why the spec did not load.
func specProblem(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Summary == "No spec files" {
			return "no spec files in this workspace"
		}
	}
	return "the spec does not load (see above)"
}

// stateOnly fixes the state of rows listed without a spec: StatusRows
// calls every forward that no spec names orphaned, but without a spec
// that says nothing; they are running, exited or failed.
func stateOnly(rows []reconcile.StatusRow, actual reconcile.Actual) {
	for i := range rows {
		r := &rows[i]
		if r.State != reconcile.StatusOrphaned {
			continue
		}
		ob := actual[r.Name]
		switch {
		case ob.Alive:
			r.State = reconcile.StatusRunning
		case ob.State.Handle.IsZero():
			r.State = reconcile.StatusFailed
		default:
			r.State = reconcile.StatusExited
		}
		r.Enabled = true
	}
}

// statusWatch is `kpf status --watch`: the live view, read-only, of what
// the state and the runtime say, refreshed every second, with the spec
// reloaded every specRefresh; no lock is taken. Health is what `kpf
// status` sees: the runtime's own, or kpf's probe at the forward's health
// interval. Logs are discarded while the view runs.
func (a *app) statusWatch(ctx context.Context, out io.Writer) error {
	if !a.useLiveView(out, false) {
		return errors.New("--watch needs a terminal; without one, run 'kpf status' (or --json) when you need it")
	}
	store, err := a.workspaceView()
	if err != nil {
		return err
	}
	dir, err := a.workspaceDir()
	if err != nil {
		return err
	}
	feed := newLiveFeed(store, &reconcile.Observer{Runtime: a.runtimeFor(store), Prober: &reconcile.NetProber{Timeout: 2 * time.Second}}, false)
	feed.workspace = filepath.Base(dir)
	if st, err := store.Load(); err == nil && st.Name != "" {
		feed.workspace = st.Name
	}
	contexts := a.newContextResolver()
	reload := func(ctx context.Context) {
		ws, _, diags, err := a.loadSpecQuietly()
		switch {
		case err != nil:
			feed.broken(a.scrub.Scrub(err.Error()))
		case diags.HasErrors():
			feed.mu.Lock()
			feed.noSpec = !feed.hasSpec()
			feed.mu.Unlock()
			feed.broken(views.FirstError(views.FromHCL(diags, a.scrub.Scrub)))
		default:
			fs, _, bad, err := a.resolveEach(ctx, contexts, ws.Forwards)
			if err != nil {
				feed.broken(a.scrub.Scrub(err.Error()))
				return
			}
			feed.loaded(ws.Name, fs, time.Now())
			if len(bad) > 0 {
				feed.broken((&reconcile.UnplannableError{Errors: bad}).Error())
			} else {
				feed.broken("")
			}
		}
	}
	reload(ctx)
	m := live.New(ctx, live.Options{Actions: &liveActions{a: a, feed: feed, store: store}, ReadOnly: true})
	old := a.logOut.swap(io.Discard)
	err = a.runLive(ctx, out, m, feed, func(ctx context.Context, _ func(any)) error {
		t := time.NewTicker(specRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				reload(ctx)
			}
		}
	})
	a.logOut.swap(old)
	fmt.Fprintln(out, "Stopped watching.")
	return err
}

// specRefresh is how often `status --watch` reloads the spec.
const specRefresh = 5 * time.Second

// statusAll lists every workspace kpf has state for, from the state alone
// plus the runtimes' checks: other workspaces' specs are not loaded. Each
// workspace's rows are kpf status's (reconcile.StatusRows), so values from
// sensitive variables are redacted as there.
func (a *app) statusAll(ctx context.Context, out io.Writer, o statusOptions) error {
	root, err := state.Root(a.getenv)
	if err != nil {
		return err
	}
	files, err := state.List(root)
	if err != nil {
		return err
	}
	var all []reconcile.WorkspaceStatus
	n := 0
	for _, f := range files {
		a.hide(nil, f)
		ws := a.workspaceRows(ctx, f)
		all = append(all, ws)
		n += len(ws.Rows)
	}
	if n == 0 && !o.JSON {
		fmt.Fprintln(out, "No workspace has forwards.")
		return nil
	}
	// The JSON is the schema of kpf status --json, per workspace.
	return a.statusView(out, o).Workspaces(all)
}

// workspaceRows are the status rows of the workspace whose state is f,
// observed without probes (no spec says how) with that workspace's
// runtime.
func (a *app) workspaceRows(ctx context.Context, f *state.File) reconcile.WorkspaceStatus {
	var actual reconcile.Actual
	if store, err := a.storeOf(f); err == nil {
		actual = (&reconcile.Observer{Runtime: a.runtimeFor(store)}).Observe(ctx, f, nil)
	} else {
		a.log.Warn("opening a workspace's state", "workspace", f.Workspace, "error", err)
		actual = make(reconcile.Actual, len(f.Forwards))
		for name, fw := range f.Forwards {
			actual[name] = reconcile.Observed{State: fw}
		}
	}
	rows := reconcile.StatusRows(nil, actual, time.Now())
	stateOnly(rows, actual)
	return reconcile.WorkspaceStatus{Name: f.Name, Path: f.Workspace, Rows: rows}
}

// storeOf opens, read-only, the state folder f was read from (it holds
// the agent's socket and the logs): --all changes nothing, and never
// touches a directory a state file merely names.
func (a *app) storeOf(f *state.File) (*state.Store, error) {
	return state.OpenReadOnly(f.Dir)
}
