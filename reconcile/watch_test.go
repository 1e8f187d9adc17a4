package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

var watchStart = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// harness drives a Watcher with a fake clock and a fake runtime: after
// every pass the loop reports when it will wake next, and the test moves
// the clock there. Nothing sleeps.
type harness struct {
	t      *testing.T
	clk    *FakeClock
	rt     *fakeRuntime
	prober *fakeProber
	w      *Watcher
	idle   chan time.Time
	wake   time.Time // when the idle loop will wake next
	cancel context.CancelFunc
	done   chan error

	mu       sync.Mutex
	forwards []model.Forward
	loadErr  error
}

// testBackOff is deterministic: 0.5 s, 1 s, 2 s, then 4 s forever.
func testBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.RandomizationFactor, b.MaxInterval = 500*time.Millisecond, 2, 0, 4*time.Second
	return b
}

func newHarness(t *testing.T, forwards ...model.Forward) *harness {
	t.Helper()
	clk := NewFakeClock(watchStart)
	rt := newFakeRuntime(clk.Now)
	h := &harness{t: t, clk: clk, rt: rt, prober: newFakeProber(), idle: make(chan time.Time), forwards: forwards}
	h.w = &Watcher{
		Load:       h.load,
		Observer:   &Observer{Runtime: rt, Prober: h.prober, Now: clk.Now},
		Applier:    &Applier{Runtime: rt, State: &state.File{Version: state.Version}, Now: clk.Now},
		Clock:      clk,
		NewBackOff: testBackOff,
	}
	return h
}

func (h *harness) load(context.Context) ([]model.Forward, model.Settings, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ue *UnplannableError
	if h.loadErr != nil && !errors.As(h.loadErr, &ue) {
		return nil, model.Settings{}, h.loadErr
	}
	return append([]model.Forward(nil), h.forwards...), model.Settings{CheckInterval: 2 * time.Second}, h.loadErr
}

func (h *harness) setSpec(err error, forwards ...model.Forward) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forwards, h.loadErr = forwards, err
}

// run starts the loop and waits for its first pass.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	h.w.onIdle = func(wake time.Time) {
		select {
		case h.idle <- wake:
		case <-ctx.Done():
		}
	}
	go func() { h.done <- h.w.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-h.done })
	h.wake = h.nextIdle()
}

func (h *harness) nextIdle() time.Time {
	h.t.Helper()
	select {
	case w := <-h.idle:
		return w
	case <-time.After(10 * time.Second):
		h.t.Fatal("watch loop did not go idle")
		return time.Time{}
	}
}

// step moves the clock to the next wake-up and waits for the loop to be
// idle again.
func (h *harness) step() {
	h.clk.Set(h.wake)
	h.wake = h.nextIdle()
}

// stepUntil steps while the next wake-up is not after t.
func (h *harness) stepUntil(t time.Time) {
	for n := 0; !h.wake.After(t); n++ {
		if n > 10000 {
			h.t.Fatal("watch loop wakes up without end")
		}
		h.step()
	}
}

// stepFor steps until cond holds, at most n times.
func (h *harness) stepFor(n int, what string, cond func() bool) {
	h.t.Helper()
	for range n {
		if cond() {
			return
		}
		h.step()
	}
	if !cond() {
		h.t.Fatalf("after %d steps: %s", n, what)
	}
}

func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Fatalf("Run returned %v, want nil", err)
	}
	h.done <- nil // for the cleanup
}

func watchFwd(t *testing.T, name string) model.Forward {
	f := *fwd(name, testutil.FreePort(t))
	f.Health = model.Health{Kind: model.HealthTCP, Interval: time.Second, FailureThreshold: 1}
	return f
}

func gaps(calls []startCall) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(calls); i++ {
		d = append(d, calls[i].At.Sub(calls[i-1].At))
	}
	return d
}

func TestWatchRestartsDeadForward(t *testing.T) {
	t.Parallel()
	h := newHarness(t, watchFwd(t, "api"), watchFwd(t, "db"))
	h.run()
	if n := len(h.rt.startCalls()); n != 2 {
		t.Fatalf("first pass made %d starts, want 2", n)
	}
	old := h.w.Applier.State.Forwards["api"].Handle
	h.rt.kill("api", "error: lost connection to pod")
	h.step() // the check_interval timer
	calls := h.rt.startCalls()
	if len(calls) != 3 || calls[2].Name != "api" || !calls[2].OK {
		t.Fatalf("start calls = %+v, want api restarted", calls)
	}
	if got := calls[2].At.Sub(watchStart); got != 2*time.Second {
		t.Errorf("restarted after %v, want at the first check (2s)", got)
	}
	st := h.w.Applier.State.Forwards["api"]
	if st.Handle == old || st.Restarts != 1 {
		t.Errorf("state after restart = %+v, want a new handle and 1 restart", st)
	}
	h.stop()
	if n := h.rt.alive(); n != 2 {
		t.Errorf("%d forwards alive after watch stopped, want 2 (they keep running)", n)
	}
}

// eventRuntime is the fake runtime that also reports exits (runtime.Events),
// like the kubectl runtime on Linux, for forwards it did not start too.
type eventRuntime struct{ *fakeRuntime }

func (r eventRuntime) Watch(ctx context.Context, hs []runtime.Handle) <-chan runtime.Event {
	out := make(chan runtime.Event)
	go func() {
		defer close(out)
		for {
			for _, h := range hs {
				if st, _ := r.Inspect(ctx, h); !st.Alive {
					select {
					case out <- runtime.Event{Handle: h, Kind: runtime.EventExited}:
					case <-ctx.Done():
					}
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return out
}

// TestWatchActsOnEvents: with a runtime that reports exits, a kill wakes
// the watch without the check_interval timer, and the new forward's exit is
// reported as well (the subscription follows the state).
func TestWatchActsOnEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, watchFwd(t, "api"))
	rt := eventRuntime{h.rt}
	h.w.Applier.Runtime, h.w.Observer.Runtime = rt, rt
	h.run()
	h.rt.kill("api", "error: lost connection to pod")
	h.wake = h.nextIdle() // the exit woke the loop; the clock did not move
	// The pass saw the dead process; the forward's backoff (0.5 s after its
	// start) decides when it is restarted, not the 2 s check interval.
	h.stepFor(3, "api restarted", func() bool { return len(h.rt.startCalls()) == 2 })
	if got := h.rt.startCalls()[1].At.Sub(watchStart); got != 500*time.Millisecond {
		t.Errorf("restarted %v after the start, want 500ms (the backoff), not the 2s check", got)
	}
	h.rt.kill("api", "")
	h.wake = h.nextIdle()
	h.stepFor(4, "api restarted again", func() bool { return len(h.rt.startCalls()) == 3 })
}

func TestWatchRestartsUnhealthyAndStopsRemoved(t *testing.T) {
	t.Parallel()
	api, db := watchFwd(t, "api"), watchFwd(t, "db")
	h := newHarness(t, api, db)
	h.run()
	h.prober.set("api", true)
	h.setSpec(nil, api) // db removed from the spec
	h.stepFor(5, "api restarted and db stopped", func() bool {
		_, dbLeft := h.w.Applier.State.Forwards["db"]
		return h.w.Applier.State.Forwards["api"].Restarts == 1 && !dbLeft
	})
	if n := h.rt.alive(); n != 1 {
		t.Fatalf("%d processes alive, want 1", n)
	}
}

func TestWatchBackOffGrowsAndCaps(t *testing.T) {
	t.Parallel()
	h := newHarness(t, watchFwd(t, "api"))
	h.rt.setScript("api", func(s *fakeScript) { s.failAll = true })
	h.run()
	h.stepFor(30, "8 starts", func() bool { return len(h.rt.startCalls()) >= 8 })
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		4 * time.Second, 4 * time.Second, 4 * time.Second}
	got := gaps(h.rt.startCalls())
	if len(got) != len(want) {
		t.Fatalf("gaps between starts = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("gaps between starts = %v, want %v", got, want)
		}
	}
	// The failing forward never spins: between retries the loop only
	// wakes for the timer and the backoff.
	if h.wake.Sub(h.clk.Now()) > 4*time.Second {
		t.Fatalf("next wake in %v, want within the 4s cap", h.wake.Sub(h.clk.Now()))
	}
}

func TestWatchDefaultBackOff(t *testing.T) {
	t.Parallel()
	w := &Watcher{}
	b := w.newBackOff(NewFakeClock(watchStart))
	if b.InitialInterval != 500*time.Millisecond || b.MaxInterval != 30*time.Second || b.MaxElapsedTime != 0 {
		t.Fatalf("default backoff = %+v", b)
	}
	var last time.Duration
	for i := range 50 {
		last = b.NextBackOff()
		if last == backoff.Stop || last > 36*time.Second {
			t.Fatalf("retry %d: %v, want a delay capped near 30s that never stops", i, last)
		}
	}
	if last < 24*time.Second {
		t.Fatalf("after 50 retries the delay is %v, want the 30s cap (±20%%)", last)
	}
}

func TestWatchBackOffResetAfterHealthy(t *testing.T) {
	t.Parallel()
	unchecked := func(t *testing.T) model.Forward {
		f := watchFwd(t, "api")
		f.Health = model.Health{Kind: model.HealthNone}
		return f
	}
	tests := []struct {
		name       string
		fwd        func(t *testing.T) model.Forward
		healthyFor time.Duration
		wantGap    time.Duration
	}{
		{"reset after 30s healthy", func(t *testing.T) model.Forward { return watchFwd(t, "api") }, 40 * time.Second, 500 * time.Millisecond},
		// A forward that served, then exited (its pod deleted): not a
		// forward that cannot start.
		{"reset once it served", func(t *testing.T) model.Forward { return watchFwd(t, "api") }, 10 * time.Second, 500 * time.Millisecond},
		// Unchecked, nothing says it served: the 30 s rule alone.
		{"no reset before 30s unchecked", unchecked, 10 * time.Second, 4 * time.Second},
		{"reset after 30s unchecked", unchecked, 40 * time.Second, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.fwd(t))
			h.rt.setScript("api", func(s *fakeScript) { s.failNext = 4 })
			h.run()
			h.stepFor(10, "api started", func() bool { return !h.w.Applier.State.Forwards["api"].Handle.IsZero() })
			h.stepUntil(h.clk.Now().Add(tt.healthyFor))
			// It dies, and the first restart fails: the retry after that
			// shows whether the backoff started over.
			h.rt.setScript("api", func(s *fakeScript) { s.failNext = 1 })
			h.rt.kill("api", "error: lost connection to pod")
			n := len(h.rt.startCalls())
			h.stepFor(20, "two more starts", func() bool { return len(h.rt.startCalls()) >= n+2 })
			calls := h.rt.startCalls()
			if g := calls[n+1].At.Sub(calls[n].At); g != tt.wantGap {
				t.Fatalf("retry gap %v, want %v (starts %+v)", g, tt.wantGap, calls[n:])
			}
		})
	}
}

func TestWatchBrokenSpecChangesNothing(t *testing.T) {
	t.Parallel()
	api, db := watchFwd(t, "api"), watchFwd(t, "db")
	h := newHarness(t, api, db)
	h.run()
	before := h.w.Applier.State.Forwards["api"].Handle
	h.setSpec(errors.New("kpf.hcl:3,1-2: Argument or block definition required"))
	for range 5 {
		h.step()
	}
	if n := len(h.rt.startCalls()); n != 2 {
		t.Fatalf("%d starts, want 2: a broken spec changes nothing", n)
	}
	if s := h.rt.stopCalls(); len(s) != 0 {
		t.Fatalf("Stop called %v on a broken spec", s)
	}
	if h.w.Applier.State.Forwards["api"].Handle != before {
		t.Fatal("api's process changed on a broken spec")
	}
	// Fixed again, and changed: the edit is applied.
	moved := api
	moved.LocalPort = testutil.FreePort(t)
	h.setSpec(nil, moved, db)
	h.stepFor(3, "api replaced", func() bool { return h.w.Applier.State.Forwards["api"].LocalPort == moved.LocalPort })
}

// TestWatchLeavesUnplannableForwards: a spec that loads but names a
// context the kubeconfig does not have (Load's *UnplannableError) keeps
// the other forwards as the spec says — a new one is started — and leaves
// the one that cannot be planned as it runs: not stopped, not replaced.
func TestWatchLeavesUnplannableForwards(t *testing.T) {
	t.Parallel()
	api, db, web := watchFwd(t, "api"), watchFwd(t, "db"), watchFwd(t, "web")
	h := newHarness(t, api, db)
	h.run()
	before := h.w.Applier.State.Forwards["db"].Handle
	h.setSpec(&UnplannableError{Errors: []ForwardError{{Name: "db", Error: `kpf.hcl:9:1: forward "db": context "prod" is not in the kubeconfig`}}}, api, web)
	h.stepFor(5, "web started", func() bool { return !h.w.Applier.State.Forwards["web"].Handle.IsZero() })
	for range 3 {
		h.step()
	}
	if s := h.rt.stopCalls(); len(s) != 0 {
		t.Fatalf("Stop called %v: the forward that cannot be planned was stopped", s)
	}
	if h.w.Applier.State.Forwards["db"].Handle != before {
		t.Fatal("db's process changed while it could not be planned")
	}
}

func TestWatchAppliesSpecFileEdit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "kpf.hcl")
	writePort := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := watchFwd(t, "api")
	writePort(strconv.Itoa(base.LocalPort))
	h := newHarness(t)
	var loads atomic.Int64
	h.w.Load = func(context.Context) ([]model.Forward, model.Settings, error) {
		loads.Add(1)
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, model.Settings{}, err
		}
		port, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, model.Settings{}, errors.New("kpf.hcl:1,1: invalid port")
		}
		f := base
		f.LocalPort = port
		// A long check interval: only the file event can trigger a pass.
		return []model.Forward{f}, model.Settings{CheckInterval: time.Hour}, nil
	}
	h.w.WatchPaths = func() []string { return []string{dir} }
	h.run()
	if calls := h.rt.startCalls(); len(calls) != 1 || calls[0].Port != base.LocalPort {
		t.Fatalf("start calls = %+v", calls)
	}
	// Editor noise is ignored.
	if err := os.WriteFile(filepath.Join(dir, "kpf.hcl~"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".kpf.hcl.swp"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A broken edit changes nothing.
	writePort("not a port")
	waitLoads := func(n int64) {
		t.Helper()
		for range 50 {
			if loads.Load() >= n {
				return
			}
			if h.wake.Sub(h.clk.Now()) <= DefaultDebounce {
				// A file event is being debounced: let the quiet time pass.
				h.step()
				continue
			}
			h.wake = h.nextIdle() // wait for the file event to reach the loop
		}
		t.Fatalf("spec loaded %d times, want %d", loads.Load(), n)
	}
	waitLoads(2)
	if n := len(h.rt.startCalls()); n != 1 {
		t.Fatalf("a broken spec file caused %d starts", n-1)
	}
	next := testutil.FreePort(t)
	writePort(strconv.Itoa(next))
	waitLoads(3)
	calls := h.rt.startCalls()
	if len(calls) != 2 || calls[1].Port != next {
		t.Fatalf("start calls = %+v, want api moved to %d", calls, next)
	}
	if got := h.w.Applier.State.Forwards["api"].LocalPort; got != next {
		t.Fatalf("state port %d, want %d", got, next)
	}
}

func TestWatchRunErrors(t *testing.T) {
	t.Parallel()
	if err := (&Watcher{}).Run(context.Background()); err == nil {
		t.Error("Run of an empty Watcher returned nil")
	}
	h := newHarness(t)
	h.w.WatchPaths = func() []string { return []string{filepath.Join(t.TempDir(), "missing")} }
	if err := h.w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Run watching a missing dir = %v, want an error naming it", err)
	}
}

// TestWatchRestartOnRequest: a name on Restart makes a pass due at once
// that stops and starts that running forward (and only it); Applying sees
// the change before and nil after; names of forwards that do not run are
// dropped.
func TestWatchRestartOnRequest(t *testing.T) {
	t.Parallel()
	off := watchFwd(t, "off")
	off.Enabled = false
	h := newHarness(t, watchFwd(t, "api"), watchFwd(t, "db"), off)
	restart := make(chan string)
	h.w.Restart = restart
	var mu sync.Mutex
	var applying [][]string
	h.w.Applying = func(cs []Change) {
		mu.Lock()
		defer mu.Unlock()
		var names []string
		for _, c := range cs {
			names = append(names, c.Name+" "+string(c.Action)+" "+c.Reason)
		}
		applying = append(applying, names)
	}
	h.run()
	old := h.w.Applier.State.Forwards["api"].Handle
	mu.Lock()
	applying = nil // the first pass's starts
	mu.Unlock()

	restart <- "api"
	h.wake = h.nextIdle() // the request woke the loop; the clock did not move
	calls := h.rt.startCalls()
	if len(calls) != 3 || calls[2].Name != "api" || calls[2].At != watchStart {
		t.Fatalf("start calls = %+v, want api started again at once", calls)
	}
	if stops := h.rt.stopCalls(); len(stops) != 1 || stops[0] != old {
		t.Errorf("stops = %v, want the old api handle %v", stops, old)
	}
	if st := h.w.Applier.State.Forwards["api"]; st.Handle == old || st.Restarts != 1 {
		t.Errorf("api after the restart: %+v", st)
	}
	mu.Lock()
	if want := [][]string{{"api ~ restart requested"}, nil}; len(applying) != 2 || len(applying[0]) != 1 || applying[0][0] != want[0][0] || applying[1] != nil {
		t.Errorf("Applying saw %q, want %q", applying, want)
	}
	mu.Unlock()

	// A forward that does not run, or that nothing knows, is not started.
	restart <- "off"
	h.wake = h.nextIdle()
	restart <- "nope"
	h.wake = h.nextIdle()
	if n := len(h.rt.startCalls()); n != 3 {
		t.Errorf("%d starts after restarting a disabled and an unknown forward, want 3", n)
	}

	// A request is not held back by the forward's backoff (it was just
	// restarted: its next retry is 0.5 s away).
	restart <- "api"
	h.wake = h.nextIdle()
	if calls := h.rt.startCalls(); len(calls) != 4 || calls[3].At != watchStart {
		t.Errorf("start calls = %+v, want a fourth at once", calls)
	}
	h.stop()
}

// TestWatchNoPodRetriesSoon: a forward that fails for want of a running pod
// (its pod is being replaced) is retried at least every NoPodRetry, however
// far its backoff grew; other failures keep the backoff.
func TestWatchNoPodRetriesSoon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want []time.Duration
	}{
		{"no pod", fmt.Errorf("no running pod matches app=solo: %w", runtime.ErrNoPod),
			[]time.Duration{500 * time.Millisecond, time.Second, time.Second, time.Second, time.Second}},
		{"other", errors.New("connection refused"),
			[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, watchFwd(t, "api"))
			h.rt.setScript("api", func(s *fakeScript) { s.failAll, s.err = true, tt.err })
			h.run()
			h.stepFor(30, "6 starts", func() bool { return len(h.rt.startCalls()) >= 6 })
			got := gaps(h.rt.startCalls())[:len(tt.want)]
			if !slices.Equal(got, tt.want) {
				t.Fatalf("gaps between starts = %v, want %v", got, tt.want)
			}
		})
	}
}
