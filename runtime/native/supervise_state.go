package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// ForwardsFile is the serving agent's persisted forward set in the state
// directory: what a serving agent restarted by its supervisor serves again.
const ForwardsFile = "agent-forwards.json"

// forwardSet is the content of ForwardsFile.
type forwardSet struct {
	// Instance is the agent instance the forwards belong to: a serving
	// agent restores only the set of its own instance.
	Instance string             `json:"instance"`
	Forwards []persistedForward `json:"forwards"`
	// Tunnels are the pods the agent had tunnels open to: a restarted
	// agent dials them again at once, while its forwards start, so that
	// their first connections find the tunnels open.
	Tunnels []warmTunnel `json:"tunnels,omitempty"`
}

// warmTunnel is the pod of an open tunnel, by kubeconfig and context.
type warmTunnel struct {
	Kubeconfig kubeconfig.Source `json:"kubeconfig"`
	Context    string            `json:"context,omitempty"`
	Namespace  string            `json:"namespace"`
	Pod        string            `json:"pod"`
	UID        string            `json:"uid"`
	// Labels and Ports (named TCP container ports) are the pod's: a
	// restarted agent serves the forwards whose selection they match on
	// the pod at once, before it lists their pods.
	Labels map[string]string `json:"labels,omitempty"`
	Ports  map[string]int32  `json:"ports,omitempty"`
}

// tunnelWarmer is a Server whose tunnels a restarted agent dials again
// (the engine's; test servers have none).
type tunnelWarmer interface {
	Tunnels() []warmTunnel
	// Restore hands the engine the pods to serve on before their lists
	// arrive (engine.Engine.Restore); PreDial then dials one.
	Restore(ws []warmTunnel)
	PreDial(ctx context.Context, w warmTunnel) error
	OnTunnelsChanged(fn func())
}

// tunnelsPersistDelay gathers the tunnel changes of this long into one
// write of the forward set.
const tunnelsPersistDelay = time.Second

// tunnelsChanged persists the open tunnels tunnelsPersistDelay after the
// first change since the last write.
func (a *agent) tunnelsChanged() {
	a.mu.Lock()
	due := a.tunnelsDue
	a.tunnelsDue = true
	a.mu.Unlock()
	if due {
		return
	}
	time.AfterFunc(tunnelsPersistDelay, func() {
		a.mu.Lock()
		a.tunnelsDue = false
		a.gen++
		a.mu.Unlock()
		select {
		case <-a.done:
			return // the agent exits: stopAll wrote the last set
		default:
		}
		a.persist()
	})
}

type persistedForward struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Spec       runtime.Spec      `json:"spec"` // LocalPort is the port actually bound
	Kubeconfig kubeconfig.Source `json:"kubeconfig"`
	Restarts   int               `json:"restarts,omitempty"` // times a restarted agent served it again
	// Resolution is what the target resolved to: a restarted agent serves
	// with it at once, then reads the target again and starts the forward
	// anew only if it changed meanwhile.
	Resolution *engine.Resolution `json:"resolution,omitempty"`
}

// persistedSpec is how a persisted forward's spec is written: in the
// wire's shape (wireForward, whose keys are runtime.Spec's Go field names,
// as the file has always had them), so that wire.go stays the one place
// that maps a target to and from its string.
type persistedSpec struct {
	persistedForwardFields
	Spec *wireForward `json:"spec"`
}

type persistedForwardFields persistedForward // persistedForward without its methods

// MarshalJSON writes p with its spec through the wire's mapping.
func (p persistedForward) MarshalJSON() ([]byte, error) {
	return json.Marshal(persistedSpec{persistedForwardFields: persistedForwardFields(p), Spec: forwardToWire(p.Spec)})
}

// UnmarshalJSON reads p with its spec through the wire's mapping: a
// target that does not parse is an error.
func (p *persistedForward) UnmarshalJSON(b []byte) error {
	var ps persistedSpec
	if err := json.Unmarshal(b, &ps); err != nil {
		return err
	}
	*p = persistedForward(ps.persistedForwardFields)
	if ps.Spec == nil {
		return nil
	}
	var err error
	if p.Spec, err = ps.Spec.spec(); err != nil {
		return fmt.Errorf("forward %s: %w", p.Name, err)
	}
	return nil
}

// resolvingServer is a Server that starts a forward with what its target
// resolved to before, and reads a target on its own (the engine's; test
// servers need not be one).
type resolvingServer interface {
	StartResolved(ctx context.Context, src kubeconfig.Source, s runtime.Spec, res *engine.Resolution) (Forward, error)
	Resolve(ctx context.Context, src kubeconfig.Source, s runtime.Spec) (engine.Resolution, error)
}

// resolutionOf is what fwd's target resolved to, if it says.
func resolutionOf(fwd Forward) *engine.Resolution {
	switch f := fwd.(type) {
	case scrubbedForward:
		return resolutionOf(f.Forward)
	case *restored:
		return f.resolution()
	case interface{ Resolution() engine.Resolution }:
		res := f.Resolution()
		return &res
	}
	return nil
}

// readForwardSet reads the persisted set; a missing file is an empty set.
func readForwardSet(dir string) (forwardSet, error) {
	var set forwardSet
	b, err := safefs.ReadFile(filepath.Join(dir, ForwardsFile))
	if errors.Is(err, os.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return set, fmt.Errorf("reading the agent's forward set: %w", err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("reading the agent's forward set: %w", err)
	}
	return set, nil
}

// writeForwardSet replaces the persisted set atomically (a 0600 temporary
// file renamed over it).
func writeForwardSet(dir string, set forwardSet) error {
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ForwardsFile)
	tmp := path + ".tmp-" + randomID()[:8]
	f, err := safefs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the agent's forward set: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing the agent's forward set: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing the agent's forward set: %w", err)
	}
	return nil
}

// persist writes the forward set as it is now, unless a write that began
// after the caller's change already did (concurrent starts share a write).
func (a *agent) persist() {
	a.mu.Lock()
	want := a.gen
	a.mu.Unlock()
	a.pmu.Lock()
	defer a.pmu.Unlock()
	if a.written >= want {
		return
	}
	a.mu.Lock()
	gen := a.gen
	set := forwardSet{Instance: a.hello.Instance, Forwards: make([]persistedForward, 0, len(a.forwards))}
	for _, s := range a.forwards {
		set.Forwards = append(set.Forwards, persistedForward{ID: s.id, Name: s.name, Spec: s.spec, Kubeconfig: s.src, Restarts: s.restarts, Resolution: resolutionOf(s.fwd)})
	}
	a.mu.Unlock()
	if w, ok := a.server.(tunnelWarmer); ok && len(set.Forwards) > 0 {
		set.Tunnels = w.Tunnels()
	}
	if err := writeForwardSet(a.opts.StateDir, set); err != nil {
		a.log.Warn("persisting the forward set", "error", err)
		return
	}
	a.written = gen
}

// boundSpec is s with the local port actually bound by fwd.
func boundSpec(s runtime.Spec, fwd Forward) runtime.Spec {
	if s.LocalPort != 0 {
		return s
	}
	if _, p, err := net.SplitHostPort(fwd.Status().Addr); err == nil {
		s.LocalPort, _ = strconv.Atoi(p)
	}
	return s
}

// addrOf is the address a spec's forward listens on.
func addrOf(s runtime.Spec) string {
	return net.JoinHostPort(s.Address, strconv.Itoa(s.LocalPort))
}

// restoreWait bounds how long a restarted agent waits for its forwards'
// first starts before it answers the CLI; later ones go on in the
// background.
const restoreWait = 10 * time.Second

// restore serves again, under the same ids, the persisted forwards of this
// agent instance (a serving agent its supervisor restarted). A set of
// another instance is left from an agent that is gone for good: it is
// replaced by an empty one.
func (a *agent) restore(ctx context.Context) {
	set, err := readForwardSet(a.opts.StateDir)
	if err != nil {
		a.log.Warn("the forward set cannot be restored", "error", err)
	}
	if set.Instance != a.hello.Instance {
		a.opts.Kept.ReleaseExcept(nil)
		a.mu.Lock()
		a.gen++
		a.mu.Unlock()
		a.persist()
		return
	}
	addrs := make([]string, len(set.Forwards))
	for i, p := range set.Forwards {
		a.opts.Scrubber.Add(p.Spec.SensitiveValues()...) // before anything can log or report it
		addrs[i] = addrOf(p.Spec)
	}
	// Listeners bound but never persisted (the agent died between the
	// two) close; the others wait for their forwards.
	a.opts.Kept.ReleaseExcept(addrs)
	a.preDial(ctx, set.Tunnels)
	var firsts []<-chan struct{}
	a.mu.Lock()
	for _, p := range set.Forwards {
		r := newRestored(a, p)
		fwd := scrubbedForward{Forward: r, s: a.opts.Scrubber}
		a.forwards[p.ID] = &served{id: p.ID, name: p.Name, fwd: fwd, stopped: make(chan struct{}), spec: p.Spec, src: p.Kubeconfig, restarts: p.Restarts + 1}
		firsts = append(firsts, r.first)
		go r.run(ctx)
	}
	a.notify()
	a.mu.Unlock()
	timeout := time.NewTimer(restoreWait)
	defer timeout.Stop()
	for _, first := range firsts {
		select {
		case <-first:
		case <-timeout.C:
			a.log.Warn("some forwards are still starting again; serving meanwhile")
			return
		case <-ctx.Done():
			return
		}
	}
	a.log.Info("forwards served again after a restart", "forwards", len(firsts))
}

// preDial dials again, in the background, the tunnels the agent had open
// before it restarted: the dials (a TLS handshake and an upgrade through
// the API server each) then overlap the forwards' starts instead of
// following them. The forwards serve on those pods without waiting for
// their pod lists.
func (a *agent) preDial(ctx context.Context, tunnels []warmTunnel) {
	w, ok := a.server.(tunnelWarmer)
	if !ok || len(tunnels) == 0 {
		return
	}
	w.Restore(tunnels) // before any forward starts: their pod sources take them
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, t := range tunnels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.PreDial(ctx, t); err != nil {
				failed.Add(1)
				a.log.Debug("pre-dialing a tunnel after the restart", "namespace", t.Namespace, "pod", t.Pod, "error", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		a.log.Info("tunnels dialed again after the restart", "tunnels", len(tunnels), "failed", failed.Load())
	}()
}

// restored is a forward a restarted agent serves again: it retries the
// start (with backoff) until it succeeds or the forward is stopped.
type restored struct {
	a     *agent
	p     persistedForward
	first chan struct{} // closed after the first attempt

	mu      sync.Mutex
	fwd     Forward // nil until started
	lastErr error
	stopped bool
	cancel  context.CancelFunc
	more    chan struct{} // closed once fwd is set
}

func newRestored(a *agent, p persistedForward) *restored {
	return &restored{a: a, p: p, first: make(chan struct{}), more: make(chan struct{}), cancel: func() {}}
}

func (r *restored) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	defer cancel()
	firstDone := sync.OnceFunc(func() { close(r.first) })
	defer firstDone()
	hint := r.p.Resolution
	start := func() (Forward, error) {
		fwd, err := r.start(ctx, hint)
		if err != nil {
			hint = nil // a resolution that did not start is read again
		}
		return fwd, err
	}
	adopt := func(fwd Forward) {
		r.fwd = fwd
		close(r.more)
	}
	fwd := r.startWithRetry(ctx, time.Second, "again", start, adopt, firstDone)
	if fwd == nil {
		return
	}
	r.a.log.Info("forward served again", "forward", r.p.Name, "id", r.p.ID, "addr", fwd.Status().Addr, "with_resolution", hint != nil)
	if hint != nil {
		r.check(ctx, *hint)
	}
}

// startWithRetry calls start until it succeeds, ctx ends or the forward is
// stopped, pausing first between the first attempts, then twice as long
// each time up to 30 s. Under r.mu it records a failure (lastErr), stops a
// forward that started after Stop and hands one that started before to
// adopt; attempted runs after each attempt. It returns the forward it
// adopted: nil if none started or the forward was stopped.
func (r *restored) startWithRetry(ctx context.Context, first time.Duration, again string, start func() (Forward, error), adopt func(Forward), attempted func()) Forward {
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	for delay := first; !stopped && ctx.Err() == nil; delay = min(2*delay, 30*time.Second) {
		fwd, err := start()
		r.mu.Lock()
		stopped = r.stopped
		switch {
		case err == nil && stopped:
			_ = fwd.Stop()
		case err == nil:
			adopt(fwd)
		default:
			r.lastErr = err
		}
		r.mu.Unlock()
		attempted()
		if err == nil {
			if stopped {
				return nil
			}
			return fwd
		}
		r.a.log.Warn("forward failed to start "+again, "forward", r.p.Name, "id", r.p.ID, "retry_in", delay, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return nil
}

// start starts the forward again, with res if the server takes one.
func (r *restored) start(ctx context.Context, res *engine.Resolution) (Forward, error) {
	if rs, ok := r.a.server.(resolvingServer); ok && res != nil {
		return rs.StartResolved(ctx, r.p.Kubeconfig, r.p.Spec, res)
	}
	return r.a.server.Start(ctx, r.p.Kubeconfig, r.p.Spec)
}

// check reads the target again after the forward served with the persisted
// resolution: if the target changed while no agent ran (a service's
// selector or port mapping edited, a deployment's selector), the forward
// is started anew on the same port with the fresh one. A read that fails
// leaves the forward as it is: it serves what it served before.
func (r *restored) check(ctx context.Context, was engine.Resolution) {
	rs, ok := r.a.server.(resolvingServer)
	if !ok {
		return
	}
	now, err := rs.Resolve(ctx, r.p.Kubeconfig, r.p.Spec)
	if err != nil {
		r.a.log.Info("the target could not be read again after the restart; serving with the persisted resolution", "forward", r.p.Name, "id", r.p.ID, "error", err)
		return
	}
	if now == was {
		return
	}
	r.mu.Lock()
	old, stopped := r.fwd, r.stopped
	r.mu.Unlock()
	if stopped || old == nil {
		return
	}
	r.a.log.Info("the target changed while the agent was down: starting the forward anew", "forward", r.p.Name, "id", r.p.ID)
	_ = old.Stop()
	start := func() (Forward, error) { return rs.StartResolved(ctx, r.p.Kubeconfig, r.p.Spec, &now) }
	adopt := func(fwd Forward) { r.fwd = fwd }
	if r.startWithRetry(ctx, 100*time.Millisecond, "anew", start, adopt, func() {}) == nil {
		return
	}
	r.a.mu.Lock()
	r.a.gen++
	r.a.mu.Unlock()
	r.a.persist()
}

// resolution is what the forward serves with now.
func (r *restored) resolution() *engine.Resolution {
	r.mu.Lock()
	fwd := r.fwd
	r.mu.Unlock()
	if fwd != nil {
		return resolutionOf(fwd)
	}
	return r.p.Resolution
}

func (r *restored) Stop() error {
	r.mu.Lock()
	r.stopped = true
	fwd, cancel := r.fwd, r.cancel
	r.mu.Unlock()
	cancel()
	if fwd != nil {
		return fwd.Stop()
	}
	r.a.opts.Kept.Release(addrOf(r.p.Spec)) // its port, kept for it, is free now
	return nil
}

func (r *restored) Status() engine.Status {
	r.mu.Lock()
	fwd, lastErr := r.fwd, r.lastErr
	r.mu.Unlock()
	if fwd != nil {
		return fwd.Status()
	}
	st := engine.Status{LastError: "starting again after the agent restarted"}
	if lastErr != nil {
		st.LastError = "starting again after the agent restarted: " + lastErr.Error()
	}
	return st
}

func (r *restored) Events(since int) ([]engine.Event, <-chan struct{}) {
	r.mu.Lock()
	fwd, more := r.fwd, r.more
	r.mu.Unlock()
	if fwd != nil {
		return fwd.Events(since)
	}
	return nil, more
}
