package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/reconcile/ports"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// Defaults of a one-shot apply.
const (
	DefaultApplyInitialInterval = 500 * time.Millisecond
	DefaultApplyMaxInterval     = 5 * time.Second
	DefaultApplyMaxElapsed      = 30 * time.Second
	// portScanWidth is how far above a taken port Apply looks for a free
	// one before asking the kernel for any free port.
	portScanWidth = 100
)

// Applier executes plans: it starts, stops and restarts forwards through a
// Runtime and records every result in the state file as it happens.
//
// The caller holds the workspace lock for as long as the Applier is used.
// An Applier may run one Apply at a time.
type Applier struct {
	Runtime runtime.Runtime
	// Store persists State after every result; nil keeps State in memory.
	Store *state.Store
	// State is the workspace's state; Apply updates it in place.
	State *state.File
	Log   hclog.Logger // nil: no logs
	// Hook is told of every action as it starts, retries, succeeds or
	// fails (a Watcher using this Applier tells it of its own events
	// too); nil: nobody is told.
	Hook Hook
	// MaxParallel bounds the forwards acted on at once (default 10).
	MaxParallel int
	// NewBackOff returns the retry policy of one action; nil means
	// exponential from 500 ms, at most 5 s apart, for at most 30 s.
	NewBackOff func() backoff.BackOff
	// Kubeconfig is passed to the runtime when not empty.
	Kubeconfig string
	// Now stamps StartedAt; nil means time.Now.
	Now func() time.Time
	// PortFree reports whether a local port can be bound when a start
	// failed because its port was taken; nil means ports.Probe.
	PortFree func(address string, port int) bool
	// FreePort asks the kernel for any free port; nil means ports.FreePort.
	FreePort func(address string) (int, error)
	// Reach, when set, checks before any start that the cluster of a kube
	// context answers at all, once per context of the changes that start
	// something, and returns within a bounded time: an error that says
	// which cluster is unreachable and why. The changes of an unreachable
	// context fail at once without retries (one progress line per
	// context) and touch nothing: a forward to be replaced or restarted
	// keeps running as it was.
	Reach func(ctx context.Context, kubeContext string) error

	scrub redact.Scrubber // the sensitive values of every forward acted on, kept out of the events

	mu       sync.Mutex // guards State, Store, reserved, released and the save clock
	reserved map[portKey]bool
	// released has a channel for each change of the current apply that
	// frees a port another change starts on; it is closed once the old
	// process is stopped (or the change ends).
	released map[*Change]chan struct{}
	lastSave time.Time // when State was last written
	dirty    bool      // State changed since
}

type portKey struct {
	address string
	port    int
}

// Result is what one Apply did.
type Result struct {
	// Outcomes has one entry per change that was not a no-op, in plan order.
	Outcomes []Outcome
	// Failed counts the outcomes with an error.
	Failed int
	// SaveErr is set when the state file could not be written at the end
	// (the forwards then run but are not all recorded).
	SaveErr error
}

// Outcome is the result of one change.
type Outcome struct {
	Name   string
	Action Action
	// Err is nil on success.
	Err error
	// Port is the local port the forward runs on (or last tried).
	Port int
	// Permanent is true when Err cannot be fixed by retrying.
	Permanent bool
	// Attempts counts calls to the runtime for the decisive step.
	Attempts int
	// NeverRan is set on a Stop of a forward that was not running (its
	// start had failed): its record was removed, nothing was stopped.
	NeverRan bool
}

// Apply executes every change of p that is not a no-op, at most
// MaxParallel at a time. A Replace or Restart stops the old process before
// starting the new one. A forward that fails never stops the others.
// Cancelling ctx (a first Ctrl-C) drains: no change begins and nothing is
// retried any more (changes not begun fail with ctx's error), but a runtime
// call under way finishes, bounded by the runtime's own timeouts, so that a
// process it starts is recorded in the state file rather than lost.
func (a *Applier) Apply(ctx context.Context, p Plan) Result {
	return a.apply(ctx, p, applyOptions{newBackOff: a.newBackOff, maxParallel: a.MaxParallel})
}

// applyOptions let the Watcher apply with one attempt per pass and the
// workspace's max_parallel.
type applyOptions struct {
	newBackOff  func() backoff.BackOff
	maxParallel int
}

func (a *Applier) apply(ctx context.Context, p Plan, opts applyOptions) Result {
	todo := a.reserve(p)
	unreachable := a.reachAll(ctx, todo)
	waits, order := a.handoffs(todo)
	semFor := a.semaphores(opts.maxParallel)
	outcomes := make([]Outcome, len(todo))
	var wg sync.WaitGroup
	for _, i := range order {
		c := todo[i]
		sem := semFor(changeRuntime(c))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			outcomes[i] = Outcome{Name: c.Name, Action: c.Action, Err: ctx.Err(), Port: c.Port}
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer a.release(c)
			for _, ch := range waits[c] { // the forward on our port stops first
				select {
				case <-ch:
				case <-ctx.Done():
				}
			}
			if c.Desired != nil && c.Action != Stop {
				if err := unreachable[c.Desired.Context]; err != nil {
					outcomes[i] = a.notReached(c, err)
					return
				}
			}
			outcomes[i] = a.applyOne(ctx, c, opts.newBackOff)
		}()
	}
	wg.Wait()
	return a.result(outcomes)
}

// reserve returns the plan's changes to make (all but no-ops), their
// values scrubbed, and reserves the ports they start forwards on.
func (a *Applier) reserve(p Plan) []*Change {
	var todo []*Change
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reserved = make(map[portKey]bool)
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == NoOp {
			continue
		}
		todo = append(todo, c)
		a.scrubValuesOf(c)
		if c.Desired != nil && c.Port > 0 {
			a.reserved[portKey{c.Desired.Address, c.Port}] = true
		}
	}
	return todo
}

// semaphores returns the bound of changes made at once for a runtime: one
// per runtime, at least max_parallel (limit, else the Applier's, else the
// default), more where the runtime says its starts are cheap (the native
// agent's are a request, not a process).
func (a *Applier) semaphores(limit int) func(runtime string) chan struct{} {
	if limit <= 0 {
		limit = a.MaxParallel
	}
	if limit <= 0 {
		limit = model.DefaultMaxParallel
	}
	sems := make(map[string]chan struct{})
	return func(name string) chan struct{} {
		if sem, ok := sems[name]; ok {
			return sem
		}
		n := limit
		if p, ok := a.Runtime.(runtime.Parallelism); ok {
			n = max(n, p.Parallel(name))
		}
		sems[name] = make(chan struct{}, n)
		return sems[name]
	}
}

// result saves the state and counts the failures.
func (a *Applier) result(outcomes []Outcome) Result {
	res := Result{Outcomes: outcomes}
	a.mu.Lock()
	if err := a.flushLocked(); err != nil {
		a.logger().Error("saving state", "error", err)
		res.SaveErr = fmt.Errorf("saving state: %w", err)
	}
	a.mu.Unlock()
	for _, o := range outcomes {
		if o.Err != nil {
			res.Failed++
		}
	}
	return res
}

// handoffs finds the changes that start a forward on a port another change
// of todo frees (a running forward moving off a port that a forward asks
// for by number, or stopping): each waits for the channel of the change
// that frees it. order is todo's indexes with the changes that free a port
// first: they never wait, so launching them first (each holding one of the
// bounded slots) leaves no waiter without the change it waits for.
func (a *Applier) handoffs(todo []*Change) (waits map[*Change][]chan struct{}, order []int) {
	waits = make(map[*Change][]chan struct{})
	freeing := map[int][]*Change{} // by the port it frees
	for _, d := range todo {
		if p := d.Prior; p != nil && !p.Handle.IsZero() && p.LocalPort > 0 &&
			(d.Action == Stop || (d.Action == Replace || d.Action == Restart) && d.Port != p.LocalPort) {
			freeing[p.LocalPort] = append(freeing[p.LocalPort], d)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.released = make(map[*Change]chan struct{})
	for _, c := range todo {
		if c.Desired == nil || c.Action == Stop || c.Port == 0 {
			continue
		}
		for _, d := range freeing[c.Port] {
			if d == c || !addressesConflict(d.Prior.Address, c.Desired.Address) {
				continue
			}
			ch, ok := a.released[d]
			if !ok {
				ch = make(chan struct{})
				a.released[d] = ch
			}
			waits[c] = append(waits[c], ch)
		}
	}
	order = make([]int, 0, len(todo))
	for i, c := range todo {
		if _, frees := a.released[c]; frees {
			order = append(order, i)
			delete(waits, c) // one that frees a port never waits
		}
	}
	for i, c := range todo {
		if _, frees := a.released[c]; !frees {
			order = append(order, i)
		}
	}
	return waits, order
}

// release tells the changes waiting for c's port that it is free; safe
// to call more than once.
func (a *Applier) release(c *Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.released[c]; ok {
		close(ch)
		delete(a.released, c)
	}
}

// reachAll runs Reach once for each context the changes start forwards
// in, all at once, and returns the errors by context; it tells the Hook of
// each unreachable context, naming its forwards.
func (a *Applier) reachAll(ctx context.Context, todo []*Change) map[string]error {
	if a.Reach == nil {
		return nil
	}
	byContext := map[string][]string{}
	for _, c := range todo {
		if c.Desired != nil && c.Action != Stop {
			byContext[c.Desired.Context] = append(byContext[c.Desired.Context], c.Name)
		}
	}
	errs := make(map[string]error, len(byContext))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for kc := range byContext {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Reach(ctx, kc); err != nil {
				mu.Lock()
				errs[kc] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, kc := range slices.Sorted(maps.Keys(errs)) {
		names := byContext[kc]
		a.logger().Debug("cluster unreachable: its changes are not applied", "context", kc, "forwards", len(names), "error", errs[kc])
		a.hook().ClusterUnreachable(ClusterUnreachable{At: a.now(), Context: kc, Forwards: names, Error: a.scrubErr(errs[kc])})
	}
	return errs
}

// record puts a forward's entry in the state and saves it.
func (a *Applier) record(name string, entry state.Forward) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.State != nil {
		if a.State.Forwards == nil {
			a.State.Forwards = make(map[string]state.Forward)
		}
		a.State.Forwards[name] = entry
	}
	return a.saveLocked()
}

// notReached is the outcome of a change whose cluster is unreachable: a
// start is recorded as failed (status shows why); a forward that runs is
// left as it is.
func (a *Applier) notReached(c *Change, err error) Outcome {
	out := Outcome{Name: c.Name, Action: c.Action, Port: c.Port, Err: err, Permanent: true}
	a.hook().ActionFailed(ActionFailed{At: a.now(), Forward: c.Name, Action: c.Action, Error: a.scrubErr(err), Permanent: true, NotReached: true})
	if c.Action != Start || c.Prior != nil && !c.Prior.Handle.IsZero() {
		return out
	}
	entry := a.entryFor(c, c.Port)
	entry.LastError = err.Error()
	serr := a.record(c.Name, entry)
	if serr != nil {
		a.logger().Error("saving state", "error", serr)
	}
	return out
}

func (a *Applier) applyOne(ctx context.Context, c *Change, nb func() backoff.BackOff) Outcome {
	log := a.logger().With("forward", c.Name, "action", string(c.Action))
	out := Outcome{Name: c.Name, Action: c.Action, Port: c.Port}
	a.hook().ActionStarted(ActionStarted{At: a.now(), Forward: c.Name, Action: c.Action, Reason: a.scrub.Scrub(c.Reason)})
	if c.Action == Stop {
		out = a.stop(ctx, c, nb, log)
		return out
	}
	if c.Desired == nil {
		out.Err = fmt.Errorf("applying %s: plan has no desired forward", c.Name)
		a.failed(c.Name, out)
		return out
	}
	if c.Action == Replace || c.Action == Restart {
		if h, ok := a.ownedHandle(c); ok {
			attempts, err := a.retry(ctx, c, nb, func() error { return a.Runtime.Stop(context.WithoutCancel(ctx), h) }, log)
			if err != nil {
				out.Err = fmt.Errorf("stopping the old process: %w", err)
				out.Attempts, out.Permanent = attempts, runtime.IsPermanent(err)
				a.failed(c.Name, out)
				return out
			}
			log.Debug("stopped the old forward", "handle", h.String())
			a.release(c)
		}
	}
	return a.start(ctx, c, nb, log)
}

// ownedHandle returns the prior handle of c if and only if the state file
// still holds that very handle: Apply never signals a process kpf did not
// record as started.
func (a *Applier) ownedHandle(c *Change) (runtime.Handle, bool) {
	if c.Prior == nil || c.Prior.Handle.IsZero() {
		return runtime.Handle{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.State == nil {
		return runtime.Handle{}, false
	}
	cur, ok := a.State.Forwards[c.Name]
	if !ok || cur.Handle != c.Prior.Handle {
		return runtime.Handle{}, false
	}
	return cur.Handle, true
}

func (a *Applier) stop(ctx context.Context, c *Change, nb func() backoff.BackOff, log hclog.Logger) Outcome {
	out := Outcome{Name: c.Name, Action: Stop}
	if c.Prior != nil {
		out.Port = c.Prior.LocalPort
		out.NeverRan = c.Prior.Handle.IsZero()
	}
	if h, ok := a.ownedHandle(c); ok {
		attempts, err := a.retry(ctx, c, nb, func() error { return a.Runtime.Stop(context.WithoutCancel(ctx), h) }, log)
		out.Attempts = attempts
		if err != nil {
			out.Err, out.Permanent = fmt.Errorf("stopping: %w", err), runtime.IsPermanent(err)
			a.mu.Lock()
			if cur, ok := a.State.Forwards[c.Name]; ok {
				cur.LastError = out.Err.Error()
				a.State.Forwards[c.Name] = cur
				if serr := a.saveLocked(); serr != nil {
					log.Error("saving state", "error", serr)
				}
			}
			a.mu.Unlock()
			a.failed(c.Name, out)
			return out
		}
	}
	a.release(c)
	a.mu.Lock()
	if a.State != nil {
		delete(a.State.Forwards, c.Name)
	}
	err := a.saveLocked()
	a.mu.Unlock()
	if err != nil {
		out.Err = fmt.Errorf("saving state: %w", err)
		a.failed(c.Name, out)
		return out
	}
	ev := ActionSucceeded{At: a.now(), Forward: c.Name, Action: Stop, Port: out.Port, Attempts: out.Attempts, NeverRan: out.NeverRan}
	if c.Prior != nil {
		ev.Address = a.scrub.Scrub(c.Prior.Address)
	}
	a.hook().ActionSucceeded(ev)
	return out
}

func (a *Applier) start(ctx context.Context, c *Change, nb func() backoff.BackOff, log hclog.Logger) Outcome {
	d := c.Desired
	out := Outcome{Name: c.Name, Action: c.Action}
	port := c.Port
	if port == 0 {
		port = d.LocalPort
	}
	if port == 0 {
		p, err := a.freePort(d.Address, 0)
		if err != nil {
			out.Err = err
			a.failed(c.Name, out)
			return out
		}
		port = p
	}
	first := port

	var h runtime.Handle
	attempts, err := a.retry(ctx, c, nb, func() error {
		var err error
		h, err = a.Runtime.Start(context.WithoutCancel(ctx), a.runtimeSpec(d, port))
		if err == nil || runtime.IsPermanent(err) || !errors.Is(err, runtime.ErrPortInUse) {
			return err
		}
		if np, perr := a.freePort(d.Address, port); perr == nil {
			log.Info("local port in use, moving", "port", port, "new_port", np)
			port = np
		}
		return err
	}, log)
	out.Attempts, out.Port = attempts, port

	entry := a.entryFor(c, port)
	if err != nil {
		out.Err, out.Permanent = err, runtime.IsPermanent(err)
		entry.LastError = err.Error()
	} else {
		entry.Handle = h
		entry.StartedAt = a.now()
		switch c.Action {
		case Restart:
			entry.Restarts++
		case Replace:
			entry.Restarts = 0
		}
	}
	serr := a.record(c.Name, entry)
	if serr != nil {
		log.Error("saving state", "error", serr)
		if out.Err == nil {
			out.Err = fmt.Errorf("saving state: %w", serr)
		}
	}
	if out.Err != nil {
		a.failed(c.Name, out)
		return out
	}

	a.succeeded(c, port, first, attempts, log, h)
	return out
}

// runtimeSpec is what the runtime is asked to start for d, on port.
func (a *Applier) runtimeSpec(d *model.Forward, port int) runtime.Spec {
	return runtime.Spec{
		Name:       d.Name,
		Target:     d.Target,
		Selector:   d.Selector,
		Context:    d.Context,
		Namespace:  d.Namespace,
		Address:    d.Address,
		LocalPort:  port,
		RemotePort: d.RemotePort,
		Kubeconfig: a.Kubeconfig,
		Runtime:    d.Runtime,
		Health:     runtimeHealth(d.Health),

		MaxConnections: d.MaxConnections,
		Sensitive:      sensitiveFields(d),
	}
}

// succeeded reports c's forward started (handle h) on port, moved from
// first if the port was taken.
func (a *Applier) succeeded(c *Change, port, first, attempts int, log hclog.Logger, h runtime.Handle) {
	d := c.Desired
	ev := ActionSucceeded{At: a.now(), Forward: c.Name, Action: c.Action, Address: a.scrub.Scrub(d.Address), Port: port, Attempts: attempts}
	if port != first {
		ev.MovedFrom = first
	}
	if c.Action == Restart || c.Action == Replace {
		ev.Reason = a.scrub.Scrub(c.Reason)
	}
	a.hook().ActionSucceeded(ev)
	log.Info("forward running", "handle", h.String(), "port", port, "attempts", attempts)
}

// entryFor is the state record of c's forward started on port (no handle
// yet).
func (a *Applier) entryFor(c *Change, port int) state.Forward {
	d := c.Desired
	entry := state.Forward{
		Name:       d.Name,
		SpecHash:   SpecHash(*d),
		Target:     d.Target.String(),
		Selector:   d.Selector,
		Context:    d.Context,
		Namespace:  d.Namespace,
		Address:    d.Address,
		Hostnames:  d.Hostnames,
		RemotePort: d.RemotePort,
		LocalPort:  port,
		WantedPort: d.LocalPort,
		Health:     FormatHealth(d.Health),

		MaxConnections: d.MaxConnections,
	}
	entry.Sensitive = sensitiveFields(d)
	if c.Prior != nil {
		entry.Restarts = c.Prior.Restarts
	}
	return entry
}

// retry runs op under the Applier's backoff policy, bounded by ctx. A
// permanent error (runtime.IsPermanent) is returned at once. It returns
// the number of calls to op.
func (a *Applier) retry(ctx context.Context, c *Change, nb func() backoff.BackOff, op func() error, log hclog.Logger) (int, error) {
	attempts := 0
	var last error
	err := backoff.RetryNotify(func() error {
		attempts++
		err := op()
		last = err
		if err != nil && runtime.IsPermanent(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(nb(), ctx), func(err error, d time.Duration) {
		// Debug: the outcome says what failed in the end; each attempt
		// is noise unless asked for (--log-level debug).
		log.Debug("attempt failed, retrying", "attempt", attempts, "error", err, "retry_in", d)
		a.hook().ActionRetried(ActionRetried{At: a.now(), Forward: c.Name, Action: c.Action, Attempt: attempts, Error: a.scrubErr(err), RetryIn: d})
	})
	if err != nil && ctx.Err() != nil && last != nil && !errors.Is(err, last) {
		err = fmt.Errorf("%w (last error: %v)", err, last)
	}
	return attempts, err
}

func (a *Applier) newBackOff() backoff.BackOff {
	if a.NewBackOff != nil {
		return a.NewBackOff()
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = DefaultApplyInitialInterval
	b.MaxInterval = DefaultApplyMaxInterval
	b.MaxElapsedTime = DefaultApplyMaxElapsed
	b.Reset()
	return b
}

// freePort picks a free port on address above from (or any free port when
// from is 0) that no other change of this apply uses, and reserves it.
func (a *Applier) freePort(address string, from int) (int, error) {
	free := a.PortFree
	if free == nil {
		free = ports.Probe
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reserved == nil {
		a.reserved = make(map[portKey]bool)
	}
	if from > 0 {
		for p := from + 1; p <= from+portScanWidth && p <= ports.MaxPort; p++ {
			if !a.reserved[portKey{address, p}] && free(address, p) {
				a.reserved[portKey{address, p}] = true
				return p, nil
			}
		}
	}
	kernel := a.FreePort
	if kernel == nil {
		kernel = ports.FreePort
	}
	for range 8 {
		p, err := kernel(address)
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		if !a.reserved[portKey{address, p}] {
			a.reserved[portKey{address, p}] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("finding a free port on %s: every port offered is taken", address)
}

// changeRuntime names the runtime a change runs in: the spec's, else the
// one that started the forward ("" = the default).
func changeRuntime(c *Change) string {
	if c.Desired != nil && c.Desired.Runtime != "" {
		return c.Desired.Runtime
	}
	if c.Prior != nil {
		return c.Prior.Handle.Runtime
	}
	return ""
}

// sensitiveFields names d's fields that came from sensitive values (nil
// when none did).
func sensitiveFields(d *model.Forward) []string {
	if len(d.Sensitive) == 0 {
		return nil
	}
	return d.SensitiveFields()
}

// runtimeHealth is a forward's health check in the runtime's plain terms.
func runtimeHealth(h model.Health) runtime.Health {
	return runtime.Health{
		Kind: string(h.Kind), HTTPPath: h.HTTPPath, Interval: h.Interval,
		Timeout: h.Timeout, FailureThreshold: h.FailureThreshold, WhileIdle: h.Declared,
	}
}

// saveEvery is the most often Apply writes the state file while results
// arrive: a save re-reads, writes and fsyncs the whole file, so saving after
// each of 100 fast native starts made apply quadratic. What a kpf killed in
// between leaves unrecorded, the next apply or destroy sweeps.
const saveEvery = 50 * time.Millisecond

// saveLocked records State: at once when the last save is saveEvery old,
// else at the next save or when Apply ends (flushLocked). a.mu is held.
func (a *Applier) saveLocked() error {
	if a.Store == nil || a.State == nil {
		return nil
	}
	now := a.now()
	if !a.lastSave.IsZero() && now.Sub(a.lastSave) < saveEvery {
		a.dirty = true
		return nil
	}
	a.lastSave, a.dirty = now, false
	return a.Store.Save(a.State)
}

// flushLocked writes a save that saveLocked put off. a.mu is held.
func (a *Applier) flushLocked() error {
	if !a.dirty || a.Store == nil || a.State == nil {
		return nil
	}
	a.lastSave, a.dirty = a.now(), false
	return a.Store.Save(a.State)
}

func (a *Applier) failed(name string, out Outcome) {
	a.hook().ActionFailed(ActionFailed{At: a.now(), Forward: name, Action: out.Action, Attempts: out.Attempts,
		Error: a.scrubErr(out.Err), Permanent: out.Permanent})
}

// scrubErr is err's text with the sensitive values of the forwards acted
// on hidden: every error an event carries passes through it.
func (a *Applier) scrubErr(err error) string {
	if err == nil {
		return ""
	}
	return a.scrub.Scrub(err.Error())
}

func (a *Applier) hook() Hook {
	if a.Hook == nil {
		return NoHook{}
	}
	return a.Hook
}

// scrubValuesOf makes the events redact the sensitive values of c's
// forward, as the spec and as the state has it.
func (a *Applier) scrubValuesOf(c *Change) {
	if c.Desired != nil {
		a.scrub.Add(ForwardValues(*c.Desired)...)
	}
	if c.Prior != nil {
		a.scrub.Add(StateValues(*c.Prior)...)
	}
}

func (a *Applier) logger() hclog.Logger {
	if a.Log == nil {
		return hclog.NewNullLogger()
	}
	return a.Log
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
