package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/reconcile/ports"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// Defaults of the watch loop.
const (
	DefaultDebounce = 200 * time.Millisecond
	// DefaultHealthyReset is how long a forward must stay alive and not
	// unhealthy before its backoff starts again from the initial interval.
	DefaultHealthyReset        = 30 * time.Second
	DefaultWatchInitialBackOff = 500 * time.Millisecond
	DefaultWatchMaxBackOff     = 30 * time.Second
	// NoPodRetry caps the wait before retrying a forward that failed for
	// want of a running pod (runtime.ErrNoPod): the backoff of a forward
	// whose pod is being replaced must not outgrow the replacement.
	NoPodRetry = time.Second
	// debounceMaxWait bounds how long a stream of file events can postpone
	// a reconcile, in multiples of Debounce.
	debounceMaxWait = 10
	// DefaultSpecReload is how often a pass reloads the spec without a file
	// event when spec files are watched.
	DefaultSpecReload = time.Minute
	// statsLogEvery is how often Run logs its WatchStats at info level.
	statsLogEvery = 5 * time.Minute
)

// Watcher keeps a workspace's forwards as its spec says (`kpf apply
// --watch`). It is level-based: a spec file change (debounced), the
// check_interval timer and a backoff expiring only mark a reconcile due;
// each pass observes every forward (a process exit is seen by Inspect),
// diffs and applies what the per-forward backoff allows. A pass reloads the
// spec first when a spec file changed, when the last load failed, when
// SpecReload has passed, or always when no files are watched (WatchPaths
// nil): an idle pass then costs no spec load (and no kubectl call of Load).
//
// Every forward has its own exponential backoff that never gives up (from
// 500 ms, capped at 30 s) and starts over once the forward has been alive
// and not unhealthy for 30 s, or when its spec changes.
//
// A view drives it through Restart (a forward to restart now) and follows
// it through Applying (what a pass is doing); it reads the rest from the
// state file and the runtime, as `kpf status` does.
type Watcher struct {
	// Load loads the spec: every forward (disabled ones included) with its
	// context resolved. An error (e.g. hcl.Diagnostics) changes nothing:
	// the last spec that loaded stays in force, except an *UnplannableError:
	// the forwards returned (those it does not name) are kept as the spec
	// says and the ones it names are left as they are.
	Load func(ctx context.Context) ([]model.Forward, model.Settings, error)
	// WatchPaths returns the directories to watch for spec file changes;
	// nil means the spec is only reloaded on the timer.
	WatchPaths func() []string
	Observer   *Observer
	// Applier executes the passes' changes, one attempt per pass: retries
	// are paced by the Watcher's per-forward backoff instead.
	Applier *Applier
	// Ports answers Diff's port questions; nil means a cache with the
	// workspace's probe_cache_ttl.
	Ports *ports.Cache
	Log   hclog.Logger // nil: no logs
	Clock Clock        // nil: RealClock
	// Debounce is the quiet time after a spec file event (default 200 ms).
	Debounce time.Duration
	// NewBackOff returns one forward's backoff; nil means the default
	// (RandomizationFactor 0.2). The Watcher sets MaxElapsedTime to 0 and
	// Clock to its own clock.
	NewBackOff func() *backoff.ExponentialBackOff
	// HealthyReset overrides DefaultHealthyReset.
	HealthyReset time.Duration
	// SpecReload overrides DefaultSpecReload: how often the spec is
	// reloaded without a file event while WatchPaths is set.
	SpecReload time.Duration
	// Restart carries names of forwards to restart now (the live view's r
	// key). Each makes a pass due that stops and starts the forward if it
	// runs, whatever its backoff says; a name that is not a running,
	// enabled forward of the spec is logged and dropped. nil: none.
	Restart <-chan string
	// Applying, when set, is called from Run's goroutine with the changes
	// a pass is about to apply, and with nil once they are done, so that a
	// view can show what is under way. It must not block.
	Applying func(changes []Change)
	// Applied, when set, is called from Run's goroutine after each pass
	// that acted, with the state it left (do not keep or change it):
	// kpf keeps the env file current from it.
	Applied func(st *state.File)
	statsMu sync.Mutex
	stats   WatchStats

	// onIdle, when set (by tests), is called each time the loop is about
	// to wait, with the time it will wake up at the latest.
	onIdle func(wake time.Time)
}

// WatchStats counts a Watcher's reconcile passes.
type WatchStats struct {
	Passes    uint64        `json:"passes"`
	SpecLoads uint64        `json:"spec_loads"`
	LastPass  time.Duration `json:"last_pass_ns"`
	MaxPass   time.Duration `json:"max_pass_ns"`
	TotalPass time.Duration `json:"total_pass_ns"`
}

// Stats returns the counters of the passes so far; safe to call while Run
// runs.
func (w *Watcher) Stats() WatchStats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.stats
}

func (w *Watcher) countPass(d time.Duration, loaded bool) {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	w.stats.Passes++
	if loaded {
		w.stats.SpecLoads++
	}
	w.stats.LastPass = d
	w.stats.TotalPass += d
	w.stats.MaxPass = max(w.stats.MaxPass, d)
}

// watchState is what one Run remembers between passes.
type watchState struct {
	forwards    []model.Forward // the last spec that loaded
	unplannable []ForwardError  // its forwards that cannot be planned
	settings    model.Settings
	loaded      bool
	lastLoadErr string
	// reload: the next pass must load the spec; lastLoad is when it last did.
	reload   bool
	lastLoad time.Time
	// restart names the forwards the next pass restarts on request.
	restart map[string]bool
	// retry holds a backoff for each forward kpf acted on recently; an
	// entry is dropped once the forward is healthy for HealthyReset.
	retry map[string]*forwardRetry
	// seen is what the last pass observed of each forward, to tell the
	// Hook of exits and health changes.
	seen map[string]seenForward
	// specSum identifies the spec last loaded, to tell the Hook of a new one.
	specSum string
}

// seenForward is what a pass observed of one forward.
type seenForward struct {
	handle runtime.Handle
	alive  bool
	health HealthState
}

type forwardRetry struct {
	bo           *backoff.ExponentialBackOff
	next         time.Time // no action before this
	hash         string    // SpecHash acted on; a new hash starts over
	healthySince time.Time
	// served: a pass saw the forward alive and healthy (a check through it
	// passed) since kpf last acted on it.
	served bool
}

// Run watches until ctx is cancelled, then returns nil: the forwards keep
// running. It returns an error only if the file watch cannot be set up.
//
// The loop only waits: for a spec file event (debounced), a restart
// request, a forward's event or the earliest of its timers; what is then
// due runs in timedPass.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Load == nil || w.Observer == nil || w.Applier == nil || w.Applier.State == nil {
		return errors.New("watcher needs Load, Observer, Applier and Applier.State")
	}
	clock := w.clock()
	log := w.logger()
	events, errs, closeFiles, err := w.watchFiles()
	if err != nil {
		return err
	}
	defer closeFiles()

	forwardEvents := newEventWatch(ctx, w.Applier.Runtime, log)
	defer forwardEvents.stop()
	ws := &watchState{retry: make(map[string]*forwardRetry), reload: true, restart: make(map[string]bool), seen: make(map[string]seenForward)}
	timers := &watchTimers{debounce: newDebouncer(w.Debounce), nextStatsLog: clock.Now().Add(statsLogEvery)}
	restarts := w.Restart
	due := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		if due {
			w.timedPass(ctx, ws, timers, events != nil, forwardEvents)
			due = false
		}
		wake := timers.wake()
		timer := clock.After(wake.Sub(clock.Now()))
		if w.onIdle != nil {
			w.onIdle(wake)
		}
		select {
		case <-ctx.Done():
			log.Info("watch stopped; forwards keep running")
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if isSpecEvent(ev) {
				log.Debug("spec file changed", "file", ev.Name, "op", ev.Op.String())
				timers.debounce.event(clock.Now())
			}
		case name, ok := <-restarts:
			if !ok {
				restarts = nil
				continue
			}
			log.Info("restart requested", "forward", name)
			ws.restart[name] = true
			due = true
		case ev := <-forwardEvents.due:
			log.Debug("forward event", "handle", ev.Handle.String(), "kind", string(ev.Kind), "detail", ev.Detail)
			due = true
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			log.Warn("file watch error", "error", err)
		case <-timer:
			if timers.expired(clock.Now(), ws) {
				due = true
			}
		}
	}
}

// watchFiles starts watching the directories of WatchPaths; the channels
// are nil when WatchPaths is. stop ends the watch.
func (w *Watcher) watchFiles() (events <-chan fsnotify.Event, errs <-chan error, stop func(), err error) {
	if w.WatchPaths == nil {
		return nil, nil, func() {}, nil
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("watching spec files: %w", err)
	}
	for _, p := range w.WatchPaths() {
		if err := fsw.Add(p); err != nil {
			fsw.Close()
			return nil, nil, nil, fmt.Errorf("watching %s: %w", p, err)
		}
	}
	return fsw.Events, fsw.Errors, func() { fsw.Close() }, nil
}

// debouncer is the quiet period after spec file events (consul-template's
// quiescence): each event moves the deadline to quiet after it, but a
// stream of events cannot move it past maxWait after the first.
type debouncer struct {
	quiet, maxWait time.Duration
	first, at      time.Time // at is zero while no event waits
}

// newDebouncer is a debouncer of quiet (DefaultDebounce when <= 0) and
// debounceMaxWait times that.
func newDebouncer(quiet time.Duration) debouncer {
	if quiet <= 0 {
		quiet = DefaultDebounce
	}
	return debouncer{quiet: quiet, maxWait: debounceMaxWait * quiet}
}

// event records a spec file event at now.
func (d *debouncer) event(now time.Time) {
	if d.at.IsZero() {
		d.first = now
	}
	d.at = now.Add(d.quiet)
	if limit := d.first.Add(d.maxWait); d.at.After(limit) {
		d.at = limit
	}
}

// fire reports whether a quiet period has ended at now, and clears it.
func (d *debouncer) fire(now time.Time) bool {
	if d.at.IsZero() || now.Before(d.at) {
		return false
	}
	d.at = time.Time{}
	return true
}

// watchTimers are the times Run wakes up at: the check_interval tick, the
// earliest backoff retry (zero: none), the end of a debounce, and the
// next stats log line.
type watchTimers struct {
	nextTick, retryAt time.Time
	debounce          debouncer
	nextStatsLog      time.Time
}

// wake is the earliest of the timers.
func (t *watchTimers) wake() time.Time {
	wake := t.nextTick
	for _, at := range []time.Time{t.retryAt, t.debounce.at} {
		if !at.IsZero() && at.Before(wake) {
			wake = at
		}
	}
	return wake
}

// expired clears the timers that ran out at now and reports whether a
// pass is due; a debounce that ended makes that pass reload the spec.
func (t *watchTimers) expired(now time.Time, ws *watchState) bool {
	due := !now.Before(t.nextTick)
	if !t.retryAt.IsZero() && !now.Before(t.retryAt) {
		due, t.retryAt = true, time.Time{}
	}
	if t.debounce.fire(now) {
		due, ws.reload = true, true
	}
	return due
}

// timedPass runs one pass (reloading the spec when it is due), re-arms the
// forwards' events, counts the pass and sets the timers it decides.
func (w *Watcher) timedPass(ctx context.Context, ws *watchState, t *watchTimers, filesWatched bool, forwardEvents *eventWatch) {
	clock := w.clock()
	reloadEvery := w.SpecReload
	if reloadEvery <= 0 {
		reloadEvery = DefaultSpecReload
	}
	start := clock.Now()
	if !filesWatched || ws.lastLoadErr != "" || start.Sub(ws.lastLoad) >= reloadEvery {
		ws.reload = true
	}
	loaded := ws.reload
	t.retryAt = w.pass(ctx, ws)
	forwardEvents.arm(w.Applier.State)
	end := clock.Now()
	w.countPass(end.Sub(start), loaded)
	t.nextTick = end.Add(checkInterval(ws.settings))
	if !end.Before(t.nextStatsLog) {
		st := w.Stats()
		w.logger().Info("watch stats", "passes", st.Passes, "spec_loads", st.SpecLoads,
			"last_pass", st.LastPass, "max_pass", st.MaxPass, "avg_pass", st.TotalPass/time.Duration(st.Passes))
		t.nextStatsLog = end.Add(statsLogEvery)
	}
}

// pass is one reconcile: load, observe, diff, apply what backoff allows.
// It returns when the next backoff-delayed change may be retried (zero if
// none is waiting).
func (w *Watcher) pass(ctx context.Context, ws *watchState) time.Time {
	forwards, settings, ok := w.loadSpec(ctx, ws)
	if !ok {
		return time.Time{}
	}
	w.ensurePorts(settings)

	actual := w.Observer.Observe(ctx, w.Applier.State, forwards)
	now := w.clock().Now()
	w.trackHealth(ws, actual, now)
	w.tellChanges(ws, actual, now)

	plan := Diff(forwards, actual, w.Ports)
	plan.Fail(ws.unplannable)
	todo, hashes, retryAt := w.admit(ws, plan.Changes, now)
	w.prune(ws, forwards)
	if len(todo) == 0 {
		return retryAt
	}

	if w.Applying != nil {
		w.Applying(todo)
	}
	w.hook().PlanReady(PlanReady{At: now, Plan: Plan{Workspace: plan.Workspace, Changes: todo, Created: now}.Redact()})
	res := w.Applier.apply(ctx, Plan{Workspace: plan.Workspace, Changes: todo, Created: now},
		applyOptions{newBackOff: func() backoff.BackOff { return &backoff.StopBackOff{} }, maxParallel: settings.MaxParallel})
	if w.Applying != nil {
		w.Applying(nil)
	}
	if w.Applied != nil {
		w.Applied(w.Applier.State)
	}
	return earliest(retryAt, w.recordOutcomes(ws, todo, res.Outcomes, hashes))
}

// loadSpec returns the forwards and settings a pass works on: the spec
// loaded again when ws says so, else (or when it does not load) the last
// spec that loaded; ok is false while none ever has. Load errors are
// logged once each.
func (w *Watcher) loadSpec(ctx context.Context, ws *watchState) (forwards []model.Forward, settings model.Settings, ok bool) {
	log := w.logger()
	clock := w.clock()
	forwards, settings, err := ws.forwards, ws.settings, error(nil)
	unplannable := ws.unplannable
	reloaded := false
	if ws.reload || !ws.loaded {
		forwards, settings, err = w.Load(ctx)
		ws.reload, ws.lastLoad, reloaded = false, clock.Now(), true
		unplannable = nil
		if ue := (*UnplannableError)(nil); errors.As(err, &ue) {
			if msg := err.Error(); msg != ws.lastLoadErr {
				log.Error("forwards left as they are until the spec or the kubeconfig is fixed", "error", msg)
				w.hook().SpecBroken(SpecBroken{At: clock.Now(), Error: msg, Unplannable: ue.names()})
			}
			unplannable, err = ue.Errors, nil
			ws.lastLoadErr = ue.Error()
		}
	}
	if err != nil {
		msg, key := err.Error(), err.Error()
		se := (*SpecError)(nil)
		if errors.As(err, &se) {
			key = se.key() // the same words, other diagnostics
		}
		if key != ws.lastLoadErr {
			log.Error("spec does not load; nothing changes until it does", "error", msg)
			ws.lastLoadErr = key
			ev := SpecBroken{At: clock.Now(), Error: msg}
			if se != nil {
				ev.Diagnostics = se.Diagnostics
			}
			w.hook().SpecBroken(ev)
		}
		return ws.forwards, ws.settings, ws.loaded
	}
	recovered := false
	if ws.lastLoadErr != "" && len(unplannable) == 0 {
		log.Info("spec loads again")
		ws.lastLoadErr, recovered = "", true
	}
	if reloaded {
		sum := loadedSum(forwards)
		if recovered || ws.loaded && sum != ws.specSum {
			w.hook().SpecReloaded(SpecReloaded{At: clock.Now(), Forwards: len(forwards), Recovered: recovered})
		}
		ws.specSum = sum
	}
	ws.forwards, ws.settings, ws.loaded = forwards, settings, true
	ws.unplannable = unplannable
	return forwards, settings, true
}

// ensurePorts sets Ports, when nil, to a cache with the workspace's
// probe_cache_ttl.
func (w *Watcher) ensurePorts(settings model.Settings) {
	if w.Ports != nil {
		return
	}
	ttl := settings.ProbeCacheTTL
	if ttl <= 0 {
		ttl = model.DefaultProbeCacheTTL
	}
	var now func() time.Time // the coarse wall clock, unless a test's clock
	if clock := w.clock(); !isRealClock(clock) {
		now = clock.Now
	}
	w.Ports = ports.NewCache(ttl, now)
}

// admit picks the changes a pass acts on: those whose backoff has run out
// and those asked for by a restart request (a no-op of a running forward
// then becomes a restart). It returns them, the spec hash of each, and when
// the earliest one held back may be retried (zero: none).
func (w *Watcher) admit(ws *watchState, changes []Change, now time.Time) (todo []Change, hashes map[string]string, retryAt time.Time) {
	log := w.logger()
	for _, c := range changes {
		requested := ws.restart[c.Name]
		if requested {
			delete(ws.restart, c.Name)
			if c.Action == NoOp && c.Desired != nil && c.Prior != nil && !c.Prior.Handle.IsZero() {
				c.Action, c.Reason = Restart, "restart requested"
			}
		}
		if c.Action == NoOp {
			if requested {
				log.Warn("restart requested of a forward that does not run; nothing to do", "forward", c.Name)
			}
			continue
		}
		r := ws.retry[c.Name]
		if c.Desired != nil {
			h := SpecHash(*c.Desired)
			if hashes == nil {
				hashes = make(map[string]string)
			}
			hashes[c.Name] = h
			if r != nil && r.hash != h {
				delete(ws.retry, c.Name) // the spec changed: start over
				r = nil
			}
		}
		if r != nil && now.Before(r.next) && !requested {
			retryAt = earliest(retryAt, r.next)
			continue
		}
		todo = append(todo, c)
	}
	for name := range ws.restart { // not in the spec nor in the state
		log.Warn("restart requested of an unknown forward; nothing to do", "forward", name)
		delete(ws.restart, name)
	}
	return todo, hashes, retryAt
}

// recordOutcomes forgets the ports the applied changes freed or took and
// sets each forward's next retry from its backoff (stopped forwards drop
// theirs). It returns the earliest retry of a failed one (zero: none).
func (w *Watcher) recordOutcomes(ws *watchState, todo []Change, outcomes []Outcome, hashes map[string]string) time.Time {
	clock := w.clock()
	now := clock.Now()
	var retryAt time.Time
	for i, o := range outcomes {
		c := &todo[i]
		w.Ports.Invalidate(addressOf(c), o.Port)
		w.Ports.Invalidate(addressOf(c), c.Port)
		if c.Prior != nil {
			w.Ports.Invalidate(c.Prior.Address, c.Prior.LocalPort)
		}
		if o.Action == Stop && o.Err == nil {
			delete(ws.retry, o.Name)
			continue
		}
		r := ws.retry[o.Name]
		if r == nil {
			r = &forwardRetry{bo: w.newBackOff(clock)}
			ws.retry[o.Name] = r
		}
		r.hash = hashes[o.Name]
		r.healthySince, r.served = time.Time{}, false
		r.next = now.Add(r.bo.NextBackOff())
		if o.Err != nil && errors.Is(o.Err, runtime.ErrNoPod) && r.next.After(now.Add(NoPodRetry)) {
			// Waiting for a pod, not failing: tried again often enough to
			// catch its replacement soon after it is Ready.
			r.next = now.Add(NoPodRetry)
		}
		if o.Err != nil {
			w.logger().Warn("forward failed; will retry", "forward", o.Name, "action", string(o.Action),
				"error", o.Err, "permanent", o.Permanent, "retry_at", r.next)
			retryAt = earliest(retryAt, r.next)
		}
	}
	return retryAt
}

// isRealClock reports whether clock is the wall clock.
func isRealClock(clock Clock) bool {
	_, real := clock.(RealClock)
	return real
}

// earliest is the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// trackHealth starts a forward's backoff over once it has been alive and
// not unhealthy for HealthyReset, and when a forward that served (a pass
// saw it healthy since kpf last acted on it) has exited: that is its pod
// going away (deleted, replaced, a node gone), not a forward that cannot
// start, so it is started again at once rather than after a backoff grown
// by the exits before (kpf-scale's kubectl runtime, three pod deletions in
// a row: the third replacement waited up to the 30 s cap).
func (w *Watcher) trackHealth(ws *watchState, actual Actual, now time.Time) {
	reset := w.HealthyReset
	if reset <= 0 {
		reset = DefaultHealthyReset
	}
	for name, r := range ws.retry {
		ob, ok := actual[name]
		if ok && ob.Alive && ob.Health == HealthHealthy {
			r.served = true
		}
		if ok && !ob.Alive && r.served {
			delete(ws.retry, name)
			continue
		}
		if !ok || !ob.Alive || ob.Health == HealthUnhealthy {
			r.healthySince = time.Time{}
			continue
		}
		if r.healthySince.IsZero() {
			r.healthySince = now
		}
		if now.Sub(r.healthySince) >= reset {
			delete(ws.retry, name)
		}
	}
}

// tellChanges tells the Hook of the forwards that were alive at the last
// pass and are not now (the same process: a new one is a new forward), and
// of health verdicts that changed while a forward stayed alive.
func (w *Watcher) tellChanges(ws *watchState, actual Actual, now time.Time) {
	hook := w.hook()
	for _, name := range slices.Sorted(maps.Keys(actual)) {
		ob := actual[name]
		cur := seenForward{handle: ob.State.Handle, alive: ob.Alive, health: ob.Health}
		prev, ok := ws.seen[name]
		ws.seen[name] = cur
		if !ok || prev.handle != cur.handle || !prev.alive {
			continue
		}
		switch {
		case !cur.alive:
			hook.ForwardExited(ForwardExited{At: now, Forward: name, Error: w.Applier.scrub.Scrub(ob.LastError)})
		case prev.health != cur.health:
			hook.HealthChanged(HealthChanged{At: now, Forward: name, From: prev.health, To: cur.health,
				Error: w.Applier.scrub.Scrub(ob.HealthError)})
		}
	}
	for name := range ws.seen {
		if _, ok := actual[name]; !ok {
			delete(ws.seen, name)
		}
	}
}

// loadedSum identifies a loaded spec by its forwards' hashes (open, which
// no hash covers, is left out: a new open path changes nothing that runs).
func loadedSum(forwards []model.Forward) string {
	var b strings.Builder
	for i := range forwards {
		b.WriteString(forwards[i].Name)
		b.WriteByte('=')
		b.WriteString(SpecHash(forwards[i]))
		fmt.Fprintf(&b, ",%t;", forwards[i].Enabled)
	}
	return b.String()
}

func (w *Watcher) hook() Hook { return w.Applier.hook() }

// prune forgets the backoff of forwards that are neither in the spec nor
// in the state file, so nothing grows with time.
func (w *Watcher) prune(ws *watchState, forwards []model.Forward) {
	if len(ws.retry) == 0 {
		return
	}
	inSpec := make(map[string]bool, len(forwards))
	for i := range forwards {
		inSpec[forwards[i].Name] = true
	}
	for name := range ws.retry {
		_, inState := w.Applier.State.Forwards[name]
		if !inSpec[name] && !inState {
			delete(ws.retry, name)
		}
	}
}

func (w *Watcher) newBackOff(clock Clock) *backoff.ExponentialBackOff {
	var b *backoff.ExponentialBackOff
	if w.NewBackOff != nil {
		b = w.NewBackOff()
	} else {
		b = backoff.NewExponentialBackOff()
		b.InitialInterval = DefaultWatchInitialBackOff
		b.MaxInterval = DefaultWatchMaxBackOff
		b.RandomizationFactor = 0.2
	}
	b.MaxElapsedTime = 0 // never give up
	b.Clock = clock
	b.Reset()
	return b
}

func (w *Watcher) clock() Clock {
	if w.Clock == nil {
		return RealClock{}
	}
	return w.Clock
}

func (w *Watcher) logger() hclog.Logger {
	if w.Log == nil {
		return hclog.NewNullLogger()
	}
	return w.Log
}

func checkInterval(s model.Settings) time.Duration {
	if s.CheckInterval > 0 {
		return s.CheckInterval
	}
	return model.DefaultCheckInterval
}

func addressOf(c *Change) string {
	if c.Desired != nil {
		return c.Desired.Address
	}
	if c.Prior != nil {
		return c.Prior.Address
	}
	return ""
}

// isSpecEvent reports whether a file event concerns a spec file: kpf.hcl
// or *.kpf.hcl (overrides included), never dotfiles or editor backups.
func isSpecEvent(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	return base == "kpf.hcl" || strings.HasSuffix(base, ".kpf.hcl")
}

// eventWatch keeps the runtime's event stream subscribed to the forwards of
// the state, so that an exit (a kill -9, a lost pod) wakes the watch at
// once, whoever started the forward. It does nothing where the runtime
// reports no events (then the check_interval timer finds the exit).
type eventWatch struct {
	ctx    context.Context
	events runtime.Events
	log    hclog.Logger
	due    chan runtime.Event
	set    []runtime.Handle // what the current subscription covers
	cancel context.CancelFunc
}

func newEventWatch(ctx context.Context, rt runtime.Runtime, log hclog.Logger) *eventWatch {
	e := &eventWatch{ctx: ctx, log: log, due: make(chan runtime.Event, 1)}
	e.events, _ = rt.(runtime.Events)
	return e
}

// arm subscribes to the handles of st when they differ from the ones
// subscribed to. Only the Run goroutine calls it.
func (e *eventWatch) arm(st *state.File) {
	if e.events == nil || st == nil {
		return
	}
	hs := make([]runtime.Handle, 0, len(st.Forwards))
	for _, f := range st.Forwards {
		if !f.Handle.IsZero() {
			hs = append(hs, f.Handle)
		}
	}
	slices.SortFunc(hs, func(a, b runtime.Handle) int { return strings.Compare(a.String(), b.String()) })
	if e.cancel != nil && slices.Equal(hs, e.set) {
		return
	}
	e.stop()
	e.set = hs
	ctx, cancel := context.WithCancel(e.ctx)
	e.cancel = cancel
	ch := e.events.Watch(ctx, hs)
	go func() {
		for ev := range ch {
			select {
			case e.due <- ev:
			default: // a pass is due already
			}
		}
	}()
}

// stop ends the subscription.
func (e *eventWatch) stop() {
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
}

// UnplannableError is the error of a Watcher's Load that loaded the spec
// but cannot plan some of its forwards (their context is not in the
// kubeconfig): it names them, and Load returns the others.
type UnplannableError struct {
	Errors []ForwardError
}

// names are the forwards e names.
func (e *UnplannableError) names() []string {
	out := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe.Name
	}
	return out
}

func (e *UnplannableError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error
	}
	return strings.Join(msgs, "; ")
}
