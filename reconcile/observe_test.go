package reconcile

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// fakeProber fails the forwards named in failing and counts probes.
type fakeProber struct {
	mu      sync.Mutex
	failing map[string]bool
	probes  map[string]int
}

func newFakeProber() *fakeProber {
	return &fakeProber{failing: map[string]bool{}, probes: map[string]int{}}
}

func (p *fakeProber) Probe(_ context.Context, f model.Forward, _ int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes[f.Name]++
	if p.failing[f.Name] {
		return errors.New("connection refused")
	}
	return nil
}

func (p *fakeProber) set(name string, failing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing[name] = failing
}

func (p *fakeProber) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes[name]
}

// errInspectRuntime fails every Inspect.
type errInspectRuntime struct{ *fakeRuntime }

func (errInspectRuntime) Inspect(context.Context, runtime.Handle) (runtime.Status, error) {
	return runtime.Status{}, errors.New("permission denied")
}

func startFake(t *testing.T, rt *fakeRuntime, name string, port int) state.Forward {
	t.Helper()
	h, err := rt.Start(context.Background(), runtime.Spec{Name: name, LocalPort: port})
	if err != nil {
		t.Fatal(err)
	}
	return state.Forward{Name: name, Handle: h, LocalPort: port, Address: "127.0.0.1"}
}

func TestObserve(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	st := &state.File{Forwards: map[string]state.Forward{
		"alive":   startFake(t, rt, "alive", 9001),
		"dead":    startFake(t, rt, "dead", 9002),
		"nocheck": startFake(t, rt, "nocheck", 9003),
		"orphan":  startFake(t, rt, "orphan", 9004),
		"failed":  {Name: "failed", LastError: "context not found", LocalPort: 9005},
	}}
	rt.kill("dead", "error: lost connection to pod")
	fw := func(name string, kind model.HealthKind) model.Forward {
		return model.Forward{Name: name, Address: "127.0.0.1", Health: model.Health{Kind: kind}}
	}
	forwards := []model.Forward{fw("alive", model.HealthTCP), fw("dead", model.HealthTCP),
		fw("nocheck", model.HealthNone), fw("failed", model.HealthTCP)}

	prober := newFakeProber()
	o := &Observer{Runtime: rt, Prober: prober}
	got := o.Observe(context.Background(), st, forwards)

	want := map[string]struct {
		alive     bool
		health    HealthState
		lastError string
	}{
		"alive":   {true, HealthHealthy, ""},
		"dead":    {false, HealthUnknown, "error: lost connection to pod"},
		"nocheck": {true, HealthNone, ""},
		"orphan":  {true, HealthUnknown, ""},
		"failed":  {false, HealthUnknown, "context not found"},
	}
	if len(got) != len(want) {
		t.Fatalf("Observe returned %d forwards, want %d", len(got), len(want))
	}
	for name, w := range want {
		ob := got[name]
		if ob.Alive != w.alive || ob.Health != w.health || ob.LastError != w.lastError {
			t.Errorf("%s: alive=%v health=%q lastError=%q, want %v %q %q",
				name, ob.Alive, ob.Health, ob.LastError, w.alive, w.health, w.lastError)
		}
		if ob.State.Name != name {
			t.Errorf("%s: State not carried over: %+v", name, ob.State)
		}
	}
	for _, name := range []string{"dead", "nocheck", "orphan", "failed"} {
		if n := prober.count(name); n != 0 {
			t.Errorf("%s probed %d times, want 0", name, n)
		}
	}

	// Without a prober nothing is probed.
	got = (&Observer{Runtime: rt}).Observe(context.Background(), st, forwards)
	if h := got["alive"].Health; h != HealthUnknown {
		t.Errorf("no prober: health = %q, want unknown", h)
	}
}

func TestObserveInspectError(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	st := &state.File{Forwards: map[string]state.Forward{"a": startFake(t, rt, "a", 9001)}}
	got := (&Observer{Runtime: errInspectRuntime{rt}}).Observe(context.Background(), st, nil)
	if got["a"].Alive || !strings.Contains(got["a"].LastError, "permission denied") {
		t.Fatalf("Observe with failing Inspect = %+v, want not alive with the error", got["a"])
	}
}

func TestObserveHealthThresholdAndInterval(t *testing.T) {
	t.Parallel()
	clk := NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := newFakeRuntime(clk.Now)
	st := &state.File{Forwards: map[string]state.Forward{"api": startFake(t, rt, "api", 9001)}}
	forwards := []model.Forward{{Name: "api", Address: "127.0.0.1", Health: model.Health{
		Kind: model.HealthTCP, Interval: 5 * time.Second, FailureThreshold: 3}}}
	prober := newFakeProber()
	o := &Observer{Runtime: rt, Prober: prober, Now: clk.Now}
	observe := func() Observed {
		return o.Observe(context.Background(), st, forwards)["api"]
	}

	if h := observe().Health; h != HealthHealthy {
		t.Fatalf("first probe: %q, want healthy", h)
	}
	// Within the interval the result is reused, not probed again.
	clk.Advance(2 * time.Second)
	if h := observe().Health; h != HealthHealthy || prober.count("api") != 1 {
		t.Fatalf("within interval: health %q after %d probes, want healthy after 1", h, prober.count("api"))
	}

	prober.set("api", true)
	steps := []HealthState{HealthHealthy, HealthHealthy, HealthUnhealthy, HealthUnhealthy}
	for i, want := range steps {
		clk.Advance(5 * time.Second)
		ob := observe()
		if ob.Health != want {
			t.Fatalf("failure %d: health %q, want %q", i+1, ob.Health, want)
		}
		if !strings.Contains(ob.HealthError, "connection refused") {
			t.Fatalf("failure %d: HealthError %q", i+1, ob.HealthError)
		}
	}
	prober.set("api", false)
	clk.Advance(5 * time.Second)
	if ob := observe(); ob.Health != HealthHealthy || ob.HealthError != "" {
		t.Fatalf("after recovery: %+v, want healthy", ob)
	}

	// A new process starts a new record: the first failure is not yet
	// unhealthy even though the old process had failed before.
	prober.set("api", true)
	for range 3 {
		clk.Advance(5 * time.Second)
		observe()
	}
	st.Forwards["api"] = startFake(t, rt, "api", 9001)
	clk.Advance(5 * time.Second)
	if h := observe().Health; h != HealthUnknown {
		t.Fatalf("new process after one failure: %q, want unknown", h)
	}

	// Records of forwards gone from the state are forgotten.
	delete(st.Forwards, "api")
	observe()
	o.mu.Lock()
	n := len(o.records)
	o.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d probe records left after the forward left the state", n)
	}
}

// healingRuntime reports its own health verdict, like the native agent.
type healingRuntime struct {
	*fakeRuntime
	health, err string
}

func (r healingRuntime) Inspect(ctx context.Context, h runtime.Handle) (runtime.Status, error) {
	st, err := r.fakeRuntime.Inspect(ctx, h)
	st.Health, st.HealthError, st.Heals = r.health, r.err, true
	return st, err
}

// TestObserveRuntimeHealth: a runtime that checks health itself is
// believed and never probed; an unhealthy forward of such a runtime is
// reported but not restarted (a restart would close its listener).
func TestObserveRuntimeHealth(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	f := dfwd("a", 9001)
	sf := startFake(t, rt, "a", 9001)
	sf.SpecHash, sf.WantedPort = SpecHash(f), 9001
	st := &state.File{Forwards: map[string]state.Forward{"a": sf}}
	prober := newFakeProber()
	o := &Observer{Runtime: healingRuntime{rt, "unhealthy", "no Ready pod"}, Prober: prober}
	got := o.Observe(context.Background(), st, []model.Forward{f})
	if got["a"].Health != HealthUnhealthy || got["a"].HealthError != "no Ready pod" || prober.count("a") != 0 {
		t.Fatalf("observed %+v with %d probes, want the runtime's verdict and no probe", got["a"], prober.count("a"))
	}
	p := Diff([]model.Forward{f}, got, dbusyPorts{})
	if a := p.Changes[0].Action; a != NoOp {
		t.Errorf("unhealthy self-healing forward planned %q, want no change", a)
	}
}

// TestObservePeek: Peek never probes; it shows the verdict of Observe's
// last probe of the same process, unknown before the first one and for a
// restarted process, and the runtime's liveness as it is now.
func TestObservePeek(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	st := &state.File{Forwards: map[string]state.Forward{
		"api": startFake(t, rt, "api", 9001),
		"db":  startFake(t, rt, "db", 9002),
	}}
	fw := func(name string) model.Forward {
		return model.Forward{Name: name, Address: "127.0.0.1", Health: model.Health{Kind: model.HealthTCP, FailureThreshold: 1}}
	}
	forwards := []model.Forward{fw("api"), fw("db")}
	prober := newFakeProber()
	o := &Observer{Runtime: rt, Prober: prober}
	ctx := context.Background()

	if got := o.Peek(ctx, st, forwards); got["api"].Health != HealthUnknown || !got["api"].Alive {
		t.Errorf("peek before any probe: %+v, want alive, health unknown", got["api"])
	}
	prober.set("db", true)
	o.Observe(ctx, st, forwards)
	for range 3 {
		got := o.Peek(ctx, st, forwards)
		if got["api"].Health != HealthHealthy || got["db"].Health != HealthUnhealthy || got["db"].HealthError == "" {
			t.Fatalf("peek after a probe: api %+v db %+v, want the probe's verdicts", got["api"], got["db"])
		}
	}
	if n := prober.count("api") + prober.count("db"); n != 2 {
		t.Errorf("%d probes, want 2 (Peek never probes)", n)
	}

	rt.kill("api", "error: lost connection to pod")
	if got := o.Peek(ctx, st, forwards); got["api"].Alive {
		t.Errorf("peek after a kill: %+v, want not alive", got["api"])
	}
	st.Forwards["api"] = startFake(t, rt, "api", 9001) // restarted: a new handle
	if got := o.Peek(ctx, st, forwards); got["api"].Health != HealthUnknown {
		t.Errorf("peek of a restarted forward: health %q, want unknown until probed", got["api"].Health)
	}
}
