package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

// liveRefresh is how often the view is refreshed from the state file and
// the runtime when nothing else wakes it.
const liveRefresh = time.Second

// useLiveView reports whether a watch shows the live view: stdout and stdin
// are terminals and --plain was not given.
func (a *app) useLiveView(out io.Writer, plain bool) bool {
	if plain {
		return false
	}
	o, ok := out.(*os.File)
	if !ok || !isatty.IsTerminal(o.Fd()) {
		return false
	}
	in, ok := a.io.In.(*os.File)
	return ok && isatty.IsTerminal(in.Fd())
}

// liveTerminal is the terminal the view runs on.
func (a *app) liveTerminal(out io.Writer) live.Terminal {
	env := os.Environ()
	if v := a.getenv("NO_COLOR"); v != "" {
		env = append(env, "NO_COLOR="+v)
	}
	return live.Terminal{In: a.io.In, Out: out, Env: env, NoColor: a.opts.NoColor}
}

// liveFeed turns what kpf knows of a workspace into the view's snapshots:
// the spec last loaded, the state file as it is on disk (the applier writes
// it as results happen) and what the runtime reports (Inspect). It never
// calls kubectl; with peek it never probes either (the watch does, and the
// shared Observer keeps its verdicts).
type liveFeed struct {
	store    *state.Store
	observer *reconcile.Observer
	peek     bool
	// kick wakes the feeding loop for a snapshot now.
	kick chan struct{}
	// The state file as last read, and the file it was read from: it is
	// decoded again only when it was replaced (the applier saves by rename).
	st   *state.File
	stFi os.FileInfo

	mu         sync.Mutex
	workspace  string
	forwards   []spec.Forward // the spec last loaded, contexts resolved
	specLoaded time.Time
	specErr    string
	noSpec     bool // the spec did not load when the feed began: rows are from the state alone
	acting     map[string]reconcile.Action
}

func newLiveFeed(store *state.Store, observer *reconcile.Observer, peek bool) *liveFeed {
	return &liveFeed{store: store, observer: observer, peek: peek, kick: make(chan struct{}, 1), acting: map[string]reconcile.Action{}}
}

// wake asks for a snapshot now.
func (f *liveFeed) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// loaded records a spec that loaded. The footer's error stays until
// broken("") clears it: a spec can load and still leave forwards
// unplanned.
func (f *liveFeed) loaded(name string, forwards []spec.Forward, at time.Time) {
	f.mu.Lock()
	f.workspace, f.forwards, f.specLoaded, f.noSpec = name, forwards, at, false
	f.mu.Unlock()
	f.wake()
}

// broken records a spec that does not load (or not all of whose forwards
// can be planned); the last one that did stays. "" clears it.
func (f *liveFeed) broken(firstDiag string) {
	f.mu.Lock()
	f.specErr = firstDiag
	f.mu.Unlock()
	f.wake()
}

// applying is reconcile.Watcher.Applying: rows of forwards under way show
// starting or restarting until the pass is done.
func (f *liveFeed) applying(cs []reconcile.Change) {
	f.mu.Lock()
	clear(f.acting)
	for _, c := range cs {
		f.acting[c.Name] = c.Action
	}
	f.mu.Unlock()
	f.wake()
}

// hasSpec reports whether a spec has loaded. The caller holds mu.
func (f *liveFeed) hasSpec() bool { return !f.specLoaded.IsZero() }

// forward returns the named forward of the spec last loaded.
func (f *liveFeed) forward(name string) (spec.Forward, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fw := range f.forwards {
		if fw.Name == name {
			return fw, true
		}
	}
	return spec.Forward{}, false
}

// snapshot observes the workspace now.
func (f *liveFeed) snapshot(ctx context.Context, now time.Time) live.Snapshot {
	f.mu.Lock()
	forwards, ws := f.forwards, f.workspace
	snap := live.Snapshot{Workspace: ws, SpecLoaded: f.specLoaded, SpecError: f.specErr, At: now}
	noSpec := f.noSpec
	f.mu.Unlock()

	st, err := f.loadState()
	if err != nil {
		// Keep showing something: the error names the state file.
		snap.SpecError = err.Error()
		st = &state.File{}
	}
	var actual reconcile.Actual
	if f.peek {
		actual = f.observer.Peek(ctx, st, forwards)
	} else {
		actual = f.observer.Observe(ctx, st, forwards)
	}
	rows := reconcile.StatusRows(forwards, actual, now)
	if noSpec {
		stateOnly(rows, actual)
	}

	f.mu.Lock()
	acting := f.acting
	snap.Rows = make([]live.Row, len(rows))
	contexts := map[string]bool{}
	for i, r := range rows {
		snap.Rows[i] = liveRow(r, acting[r.Name])
		if r.Context != "" {
			contexts[r.Context] = true
		}
	}
	f.mu.Unlock()
	for c := range contexts {
		snap.Contexts = append(snap.Contexts, c)
	}
	slices.Sort(snap.Contexts)
	return snap
}

// loadState returns the state file, decoding it only when it changed since
// the last call. Only the feeding goroutine calls it.
func (f *liveFeed) loadState() (*state.File, error) {
	fi, err := os.Stat(f.store.Path())
	if err == nil && f.st != nil && os.SameFile(fi, f.stFi) && fi.ModTime().Equal(f.stFi.ModTime()) && fi.Size() == f.stFi.Size() {
		return f.st, nil
	}
	st, err := f.store.Load()
	if err != nil {
		f.st, f.stFi = nil, nil
		return nil, err
	}
	f.st, f.stFi = st, fi
	if fi == nil { // no state file yet: read again next time
		f.st = nil
	}
	return st, nil
}

// liveRow maps a status row to the view's, with the action a pass is
// taking on it (NoOp when none).
func liveRow(r reconcile.StatusRow, doing reconcile.Action) live.Row {
	row := live.Row{
		Name: r.Name, Local: r.Reach(), Target: r.Target, Context: r.Context, Namespace: r.Namespace,
		Pod: r.Pod, State: r.State, Health: r.HealthText(),
		Active: r.Active, Total: r.Total, BytesIn: r.BytesIn, BytesOut: r.BytesOut,
		Restarts: r.Restarts, Uptime: r.Uptime, LastError: r.LastError,
	}
	if r.WantedPort > 0 && r.Port > 0 && r.Port != r.WantedPort { // as StatusRow.LocalText
		row.WantedPort = r.WantedPort
	}
	switch doing {
	case reconcile.Restart, reconcile.Replace:
		row.State, row.Health, row.Uptime = live.StateRestarting, "-", 0
	case reconcile.Start:
		row.State, row.Health = live.StateStarting, "-"
	}
	return row
}

// feed sends p a snapshot now and then every liveRefresh or when f is
// woken, until ctx is done.
func (f *liveFeed) feed(ctx context.Context, send func(any)) {
	t := time.NewTicker(liveRefresh)
	defer t.Stop()
	for {
		send(f.snapshot(ctx, time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
	}
}

// liveActions carries out the view's keys.
type liveActions struct {
	a       *app
	feed    *liveFeed
	store   *state.Store
	restart chan<- string // nil: read-only
}

var _ live.Actions = (*liveActions)(nil)

// Restart hands the forward to the watch, which stops and starts it at
// once.
func (l *liveActions) Restart(ctx context.Context, name string) error {
	if l.restart == nil {
		return errors.New("read-only: 'kpf apply --watch' restarts forwards")
	}
	fw, ok := l.feed.forward(name)
	switch {
	case !ok:
		return fmt.Errorf("%s is not in the spec", name)
	case !fw.Enabled:
		return fmt.Errorf("%s is disabled in the spec", name)
	}
	select {
	case l.restart <- name:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	default:
		return errors.New("restarts are already queued; try again in a moment")
	}
}

// Open opens the forward in the browser, as `kpf open` does.
func (l *liveActions) Open(ctx context.Context, name string) error {
	fw, ok := l.feed.forward(name)
	if !ok {
		return fmt.Errorf("no forward named %q in the spec", name)
	}
	url, err := l.a.runningURL(ctx, l.store, fw)
	if err != nil {
		return err
	}
	return l.a.startBrowser(ctx, url)
}

// Log follows the forward's log through a pipe: closing the reader ends
// the copy behind it.
func (l *liveActions) Log(ctx context.Context, name string, follow bool) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		err := l.a.writeLog(ctx, l.store, name, follow, pw)
		pw.CloseWithError(err)
	}()
	return &cancelReader{PipeReader: pr, cancel: cancel}, nil
}

// cancelReader is a pipe whose Close also stops its writer.
type cancelReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

// Close closes the pipe before it stops the writer, so a pending Read
// returns io.ErrClosedPipe rather than the EOF of a writer that ended.
func (r *cancelReader) Close() error {
	err := r.PipeReader.Close()
	r.cancel()
	return err
}

// liveHook is the live view's side of the watch's events: a line of the
// view's event log per forward acted on, and the spec's state in the
// footer.
type liveHook struct {
	reconcile.NoHook
	send func(any)
	feed *liveFeed
}

var _ reconcile.Hook = (*liveHook)(nil)

// event sends ev to the view's log when the human views show it.
func (h *liveHook) event(at time.Time, ev any) {
	name, text, failed, ok := views.Text(ev)
	if !ok {
		return
	}
	h.send(live.Event{At: at, Name: name, Text: termtext.Escape(text), Err: failed})
}

func (h *liveHook) ActionSucceeded(e reconcile.ActionSucceeded)       { h.event(e.At, e) }
func (h *liveHook) ActionFailed(e reconcile.ActionFailed)             { h.event(e.At, e) }
func (h *liveHook) ClusterUnreachable(e reconcile.ClusterUnreachable) { h.event(e.At, e) }

func (h *liveHook) SpecReloaded(e reconcile.SpecReloaded) {
	if e.Recovered {
		h.feed.broken("")
	}
	h.event(e.At, e)
}

// SpecBroken shows the first error in the footer; the last spec that
// loaded stays in force.
func (h *liveHook) SpecBroken(e reconcile.SpecBroken) {
	if first := views.FirstError(e.Diagnostics); first != "" {
		h.feed.broken(first)
		return
	}
	h.feed.broken(e.Error)
}

// swapWriter is the logger's output: stderr, or a file while the live view
// owns the terminal.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// swap sets the output and returns the previous one.
func (s *swapWriter) swap(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// logToFile sends kpf's logs to NAME in the workspace's state folder while
// the view runs; the returned function puts them back on stderr and closes
// the file.
func (a *app) logToFile(store *state.Store, name string) (path string, restore func(), err error) {
	path = store.Dir() + string(os.PathSeparator) + name
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("opening the watch log: %w", err)
	}
	old := a.logOut.swap(f)
	return path, func() {
		a.logOut.swap(old)
		f.Close()
	}, nil
}

// runLive runs the view until the user quits or ctx ends, feeding it from
// feed; work (the watch, or nothing) runs beside it and is cancelled when
// the view ends. It prints the closing line once the terminal is restored.
func (a *app) runLive(ctx context.Context, out io.Writer, m *live.Model, feed *liveFeed, work func(ctx context.Context, send func(any)) error) error {
	viewCtx, endView := context.WithCancel(ctx)
	defer endView()
	p := live.NewProgram(viewCtx, m, a.liveTerminal(out))
	send := func(msg any) { p.Send(msg) }

	workCtx, endWork := context.WithCancel(ctx)
	defer endWork()
	var wg sync.WaitGroup
	var workErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		feed.feed(workCtx, send)
	}()
	go func() {
		defer wg.Done()
		if work == nil {
			return
		}
		if workErr = work(workCtx, send); workErr != nil {
			endView() // the view has nothing left to show
		}
	}()
	err := live.Run(viewCtx, p)
	endWork()
	wg.Wait()
	return errors.Join(err, workErr)
}
