package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

type applyOptions struct {
	Watch bool
	Only  []string
	// Plain keeps a watch on a terminal to progress lines (no live view).
	Plain bool
	// Wait: return once every forward of the apply serves (0: do not wait).
	Wait time.Duration
	// JSON streams one JSON object per event (docs/apply-json.md).
	JSON bool
}

func (a *app) applyCommand() *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Start, stop and restart forwards until they match the spec",
		Long: `apply computes the same plan as 'kpf plan' and carries it out: forwards are
served by kpf's agent, one background process per workspace that keeps running
after kpf exits (forwards of runtime = "kubectl" run as detached kubectl
processes instead), each action retried with exponential backoff. One forward
failing does not stop the others; the exit code is 1 if any failed.

With --watch, kpf then keeps the forwards matching the spec: it restarts what
dies or fails its health check, and follows edits of the spec files. On a
terminal it shows a live table of the forwards (keys: ↑/↓ j/k move, / filter,
r restart, o open, l log, ? help, q quit); with --plain, or when stdout is
not a terminal, it prints a line per change instead (--json: one JSON
object per event, see docs/apply-json.md). q or Ctrl-C stops
watching (a second Ctrl-C exits at once); the forwards keep running until
'kpf destroy'. While the table is shown, kpf's logs go to watch.log in the
workspace's state folder.`,
		Example: `  kpf apply
  kpf apply --only api --only db
  kpf apply --watch
  kpf apply --watch --plain --log-level info
  kpf apply --watch --json | jq -c 'select(.type == "action_failed")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Watch && len(o.Only) > 0 {
				return errors.New("--only cannot be combined with --watch: watch keeps the whole workspace matching the spec")
			}
			if o.Watch && o.Wait > 0 {
				return errors.New("--wait cannot be combined with --watch")
			}
			// The agent this apply may start reads it: refused here, before
			// anything changes, rather than logged there.
			if _, err := native.TransportFromEnv(a.getenv); err != nil {
				return err
			}
			return a.apply(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "keep the forwards matching the spec until interrupted")
	cmd.Flags().StringArrayVar(&o.Only, "only", nil, "apply only the forward `NAME` (repeatable)")
	cmd.Flags().BoolVar(&o.Plain, "plain", false, "with --watch: print a line per change instead of the live table")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "stream one JSON object per event (see docs/apply-json.md); implies --plain")
	cmd.Flags().DurationVar(&o.Wait, "wait", 0, "return once every forward of the apply serves (health check passed, or a connection through it reached a pod); fail after `DURATION` (--wait alone: "+defaultWait.String()+")")
	cmd.Flags().Lookup("wait").NoOptDefVal = defaultWait.String()
	return cmd
}

func (a *app) apply(ctx context.Context, out io.Writer, o applyOptions) error {
	var jsonView *views.JSON
	if o.JSON {
		jsonView = views.NewJSON(out, nil)
		jsonView.Version(currentBuild().Version)
	}
	s, err := a.openApplySession(ctx, jsonView)
	if err != nil {
		return err
	}
	holder := ""
	if o.Watch {
		holder = state.HolderWatch
	}
	unlock, err := a.lockSession(ctx, s, holder)
	if err != nil {
		return err
	}
	defer unlock()
	if o.Watch && !o.JSON && a.useLiveView(out, o.Plain) {
		return a.watchLive(ctx, out, s)
	}

	var view views.Apply = views.NewApplyHuman(out, a.color(out))
	if jsonView != nil {
		view = jsonView
	}
	p := s.plan(ctx)
	if len(o.Only) > 0 {
		if p, err = onlyChanges(p, o.Only); err != nil {
			return err
		}
	}
	applier := a.applier(s, view)
	a.planOutputs(&p, s.ws, s.state)
	if err := a.applyPlan(ctx, view, applier, p); err != nil {
		return err
	}
	if err := a.keepEnvFile(s); err != nil {
		fmt.Fprintf(a.io.Err, "Warning: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
	}
	if o.Wait > 0 {
		unlock() // a wait changes nothing: others may apply meanwhile
		if err := a.waitServing(ctx, s, servingNames(p), o.Wait); err != nil {
			return err
		}
		view.Serving(len(servingNames(p)))
	}
	if !o.Watch || ctx.Err() != nil {
		return jsonErr(jsonView)
	}
	view.WatchStarted(countEnabled(s.forwards))
	w := a.watcher(s, applier, func(loader *spec.Loader, diags hcl.Diagnostics) {
		switch {
		case jsonView == nil:
			a.writeDiagnostics(loader, diags)
		case !diags.HasErrors(): // errors come with the spec_broken event
			jsonView.Diagnostics(views.FromHCL(diags, a.scrub.Scrub))
		}
	}, nil)
	err = w.Run(ctx)
	view.WatchStopped()
	return errors.Join(err, jsonErr(jsonView))
}

// applyPlan shows p and applies its changes; a change that failed, or a
// forward whose spec has errors (the others are applied), sets the exit
// status.
func (a *app) applyPlan(ctx context.Context, view views.Apply, applier *reconcile.Applier, p reconcile.Plan) error {
	switch {
	case p.HasChanges():
		if err := view.Plan(p.Redact()); err != nil {
			return err
		}
		res := applier.Apply(ctx, p)
		view.Summary(views.SummaryOf(res, len(p.Errors)))
		if res.SaveErr != nil {
			return res.SaveErr
		}
		if res.Failed > 0 {
			a.exit = exitError
		}
	case len(p.Errors) > 0:
		if err := view.Plan(p.Redact()); err != nil {
			return err
		}
		view.Summary(views.SummaryOf(reconcile.Result{}, len(p.Errors)))
	default:
		if err := view.NoChanges(p.Redact()); err != nil {
			return err
		}
	}
	if len(p.Errors) > 0 { // the others were applied
		a.exit = exitError
	}
	return nil
}

// jsonErr is the error writing the JSON stream, if any.
func jsonErr(j *views.JSON) error {
	if j == nil {
		return nil
	}
	return j.Err()
}

// openApplySession is openSession; with the JSON view (j not nil) the
// spec's diagnostics go to the stream as diagnostic lines instead of
// stderr.
func (a *app) openApplySession(ctx context.Context, j *views.JSON) (*session, error) {
	if j == nil {
		return a.openSession(ctx, false)
	}
	ws, _, diags, err := a.loadSpecQuietly()
	if err != nil {
		return nil, err
	}
	if len(diags) > 0 {
		j.Diagnostics(views.FromHCL(diags, a.scrub.Scrub))
	}
	if diags.HasErrors() {
		return nil, errors.Join(errReported, j.Err())
	}
	return a.sessionFor(ctx, ws, false)
}

// watchLive is `apply --watch` on a terminal: the live view runs while the
// watch, from its first pass on, makes and keeps the forwards as the spec
// says. Progress goes to the view's notice line, logs to a file.
func (a *app) watchLive(ctx context.Context, out io.Writer, s *session) error {
	logPath, restore, err := a.logToFile(s.store, "watch.log")
	if err != nil {
		return err
	}
	feed := newLiveFeed(s.store, s.observer, true)
	feed.loaded(s.ws.Name, s.forwards, time.Now())
	restart := make(chan string, 16)
	m := live.New(ctx, live.Options{Actions: &liveActions{a: a, feed: feed, store: s.store, restart: restart}})
	err = a.runLive(ctx, out, m, feed, func(ctx context.Context, send func(any)) error {
		applier := a.applier(s, &liveHook{send: send, feed: feed})
		w := a.watcher(s, applier, func(*spec.Loader, hcl.Diagnostics) {},
			func(ws *spec.Workspace, fs []spec.Forward) { feed.loaded(ws.Name, fs, time.Now()) })
		w.Restart, w.Applying = restart, feed.applying
		return w.Run(ctx)
	})
	restore()
	fmt.Fprintln(out, "Stopped watching; forwards keep running. 'kpf destroy' stops them.")
	a.log.Debug("the watch logged to a file while the view ran", "path", logPath)
	return err
}

// servingNames are the forwards p leaves running: enabled forwards of the
// spec, whatever their action.
func servingNames(p reconcile.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action != reconcile.Stop && c.Desired != nil && c.Desired.Enabled {
			out = append(out, c.Name)
		}
	}
	return out
}

// keepEnvFile writes the env file after an apply and records it in the
// state (the caller holds the lock).
func (a *app) keepEnvFile(s *session) error {
	before := s.state.EnvFile
	a.keepHosts(s.state)
	if err := a.writeEnvFile(s.ws, s.state); err != nil {
		return err
	}
	if s.state.EnvFile != before {
		return s.store.Save(s.state)
	}
	return nil
}

// loadError is a watch's load error that is not the spec's, its text
// scrubbed of sensitive values (the watch tells views of it).
type loadError struct {
	err  error
	text string
}

func (e *loadError) Error() string { return e.text }
func (e *loadError) Unwrap() error { return e.err }

// watcher builds the watch of s. diags is told of each new set of spec
// diagnostics (once, and again only when they change; the watch tells the
// applier's hook when the spec breaks and loads again); loaded, when set,
// of each spec that loads.
func (a *app) watcher(s *session, applier *reconcile.Applier,
	diags func(loader *spec.Loader, diags hcl.Diagnostics),
	loaded func(ws *spec.Workspace, fs []spec.Forward)) *reconcile.Watcher {
	shownDiags := "" // the initial load's warnings were shown by openSession
	current := s.ws
	return &reconcile.Watcher{
		Applied: func(st *state.File) {
			a.keepHosts(st)
			if err := a.writeEnvFile(current, st); err != nil {
				a.log.Warn("keeping the env file current", "error", err)
			}
		},
		Load: func(ctx context.Context) ([]spec.Forward, spec.Settings, error) {
			ws, loader, ds, err := a.loadSpecQuietly()
			if err != nil {
				return nil, spec.Settings{}, &loadError{err: err, text: a.scrub.Scrub(err.Error())}
			}
			// The watch reloads a broken spec on every pass until it is
			// fixed: report its diagnostics once, and again only when they change.
			if text := spec.FormatDiagnosticsPlain(ds); text != shownDiags {
				shownDiags = text
				if len(ds) > 0 {
					diags(loader, ds)
				}
			}
			if ds.HasErrors() {
				return nil, spec.Settings{}, &reconcile.SpecError{Diagnostics: views.FromHCL(ds, a.scrub.Scrub)}
			}
			all, fs, bad, err := a.resolveEach(ctx, s.contexts, ws.Forwards)
			if err != nil {
				return nil, spec.Settings{}, &loadError{err: err, text: a.scrub.Scrub(err.Error())}
			}
			current = ws
			if loaded != nil {
				loaded(ws, all)
			}
			if len(bad) > 0 {
				// The others are kept as the spec says.
				return fs, ws.Settings, &reconcile.UnplannableError{Errors: bad}
			}
			return fs, ws.Settings, nil
		},
		WatchPaths: func() []string { return []string{s.ws.Dir} },
		Observer:   s.observer,
		Applier:    applier,
		Ports:      s.ports,
		Log:        a.log.Named("watch"),
	}
}

// applier builds the executor shared by apply and watch; hook is told
// what it does.
func (a *app) applier(s *session, hook reconcile.Hook) *reconcile.Applier {
	return &reconcile.Applier{
		Runtime:     s.rt,
		Store:       s.store,
		State:       s.state,
		Log:         a.log.Named("apply"),
		Hook:        hook,
		MaxParallel: s.ws.Settings.MaxParallel,
		Kubeconfig:  a.opts.Kubeconfig,
		Reach:       a.reach,
	}
}

// onlyChanges keeps the changes (and the errors) of the named forwards; an
// unknown name is an error rather than a silent no-op.
func onlyChanges(p reconcile.Plan, names []string) (reconcile.Plan, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	keptChanges := p.Changes[:0:0]
	found := make(map[string]bool, len(names))
	for _, c := range p.Changes {
		if want[c.Name] {
			keptChanges = append(keptChanges, c)
			delete(want, c.Name)
			found[c.Name] = true
		}
	}
	kept := p.Errors[:0:0]
	for _, e := range p.Errors {
		if want[e.Name] || found[e.Name] {
			kept = append(kept, e)
			delete(want, e.Name)
		}
	}
	p.Errors = kept
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		return p, fmt.Errorf("--only: no forward named %s in the spec or the state", strings.Join(unknown, ", "))
	}
	p.Changes = keptChanges
	return p, nil
}

func countEnabled(fs []spec.Forward) int {
	n := 0
	for _, f := range fs {
		if f.Enabled {
			n++
		}
	}
	return n
}
