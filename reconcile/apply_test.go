package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

var applyNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fwd(name string, port int) *model.Forward {
	return &model.Forward{
		Name: name, Target: model.Target{Kind: "service", Name: name}, Context: "kind-dev",
		Namespace: "shop", Address: "127.0.0.1", LocalPort: port, RemotePort: "80", Enabled: true,
	}
}

// outputLines returns the Applier's output lines so far.
func outputLines(out *testutil.SyncBuffer) []string {
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func newTestApplier(rt runtime.Runtime, retries uint64) (*Applier, *testutil.SyncBuffer) {
	out := &testutil.SyncBuffer{}
	return &Applier{
		Runtime:    rt,
		State:      &state.File{Version: state.Version, Forwards: map[string]state.Forward{}},
		Hook:       &lineHook{w: out},
		NewBackOff: func() backoff.BackOff { return backoff.WithMaxRetries(&backoff.ZeroBackOff{}, retries) },
		Now:        func() time.Time { return applyNow },
		PortFree:   func(string, int) bool { return true },
	}, out
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestApplyStartRetryPermanent(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.setScript("flaky", func(s *fakeScript) { s.failNext = 2 })
	rt.setScript("denied", func(s *fakeScript) { s.failAll, s.permanent = true, true })
	rt.setScript("down", func(s *fakeScript) { s.failAll = true })
	a, out := newTestApplier(rt, 3)

	p := Plan{Changes: []Change{
		{Name: "api", Action: Start, Port: 8080, Desired: fwd("api", 8080)},
		{Name: "denied", Action: Start, Port: 8081, Desired: fwd("denied", 8081)},
		{Name: "down", Action: Start, Port: 8082, Desired: fwd("down", 8082)},
		{Name: "flaky", Action: Start, Port: 8083, Desired: fwd("flaky", 8083)},
		{Name: "same", Action: NoOp, Port: 8084, Desired: fwd("same", 8084)},
	}}
	res := a.Apply(context.Background(), p)

	if res.Failed != 2 || len(res.Outcomes) != 4 {
		t.Fatalf("Failed=%d Outcomes=%d, want 2 and 4 (no-op skipped)", res.Failed, len(res.Outcomes))
	}
	want := []struct {
		name      string
		ok        bool
		attempts  int
		permanent bool
	}{
		{"api", true, 1, false},
		{"denied", false, 1, true}, // permanent: never retried
		{"down", false, 4, false},  // 1 + 3 retries
		{"flaky", true, 3, false},
	}
	for i, w := range want {
		o := res.Outcomes[i]
		if o.Name != w.name || (o.Err == nil) != w.ok || o.Attempts != w.attempts || o.Permanent != w.permanent {
			t.Errorf("outcome %d = %+v, want %+v", i, o, w)
		}
	}

	api := a.State.Forwards["api"]
	if api.Handle.IsZero() || api.LocalPort != 8080 || api.WantedPort != 8080 || !api.StartedAt.Equal(applyNow) ||
		api.SpecHash != SpecHash(*fwd("api", 8080)) || api.Target != "service/api" || api.Context != "kind-dev" {
		t.Errorf("state of api = %+v", api)
	}
	denied := a.State.Forwards["denied"]
	if !denied.Handle.IsZero() || !strings.Contains(denied.LastError, "permanent") || denied.LocalPort != 8081 {
		t.Errorf("state of a failed start = %+v, want no handle and the error", denied)
	}
	if _, ok := a.State.Forwards["same"]; ok {
		t.Error("a no-op change wrote state")
	}

	lines := outputLines(out)
	for _, l := range []string{
		"forward.api: started on 127.0.0.1:8080 (1 attempt)",
		"forward.flaky: started on 127.0.0.1:8083 (3 attempts)",
		"forward.down: failed after 4 attempts: fake: connection refused",
	} {
		if !hasLine(lines, l) {
			t.Errorf("progress lacks %q:\n%s", l, strings.Join(lines, "\n"))
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d progress lines, want one per forward:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// The state records which fields of a forward came from sensitive
// values, so the views can hide them after the spec changed.
func TestApplyRecordsSensitiveFields(t *testing.T) {
	t.Parallel()
	a, _ := newTestApplier(newFakeRuntime(nil), 0)
	secret := fwd("secret", 9000)
	secret.Sensitive = map[string]bool{model.FieldContext: true, model.FieldTarget: true}
	p := Plan{Changes: []Change{
		{Name: "plain", Action: Start, Port: 9001, Desired: fwd("plain", 9001)},
		{Name: "secret", Action: Start, Port: 9000, Desired: secret},
	}}
	if res := a.Apply(context.Background(), p); res.Failed != 0 {
		t.Fatalf("Failed = %d: %+v", res.Failed, res.Outcomes)
	}
	if got, want := a.State.Forwards["secret"].Sensitive, []string{model.FieldContext, model.FieldTarget}; !slices.Equal(got, want) {
		t.Errorf("secret's state records sensitive %v, want %v", got, want)
	}
	if got := a.State.Forwards["plain"].Sensitive; got != nil {
		t.Errorf("plain's state records sensitive %v, want none", got)
	}
}

func TestApplyStopRestartReplace(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	a, out := newTestApplier(rt, 0)
	for _, name := range []string{"old", "sick", "moved"} {
		f := startFake(t, rt, name, 9000)
		f.Restarts = 2
		a.State.Forwards[name] = f
	}
	prior := func(name string) *state.Forward { f := a.State.Forwards[name]; return &f }
	oldH, sickH, movedH := a.State.Forwards["old"].Handle, a.State.Forwards["sick"].Handle, a.State.Forwards["moved"].Handle
	// A handle the state does not hold must never be signalled.
	stranger := &state.Forward{Name: "ghost", Handle: fakeHandle(4242, 1)}
	a.State.Forwards["ghost"] = state.Forward{Name: "ghost", Handle: fakeHandle(77, 1)}

	// Stop before start: the old process is dead when the new one starts.
	rt.onStart = func(s runtime.Spec) {
		old := map[string]runtime.Handle{"sick": sickH, "moved": movedH}[s.Name]
		if st, _ := rt.Inspect(context.Background(), old); st.Alive {
			t.Errorf("%s started while its old process was alive", s.Name)
		}
	}
	p := Plan{Changes: []Change{
		{Name: "ghost", Action: Stop, Prior: stranger},
		{Name: "moved", Action: Replace, Reason: "spec changed: local_port", Port: 9100, Desired: fwd("moved", 9100), Prior: prior("moved")},
		{Name: "old", Action: Stop, Prior: prior("old")},
		{Name: "sick", Action: Restart, Port: 9000, Desired: fwd("sick", 9000), Prior: prior("sick")},
	}}
	res := a.Apply(context.Background(), p)
	if res.Failed != 0 {
		t.Fatalf("Failed = %d: %+v", res.Failed, res.Outcomes)
	}
	stops := rt.stopCalls()
	if len(stops) != 3 {
		t.Fatalf("Stop called %d times (%v), want 3", len(stops), stops)
	}
	for _, h := range stops {
		if h != oldH && h != sickH && h != movedH {
			t.Errorf("Stop called on %v, a handle not from state", h)
		}
	}
	if _, ok := a.State.Forwards["old"]; ok {
		t.Error("stopped forward still in state")
	}
	if _, ok := a.State.Forwards["ghost"]; ok {
		t.Error("stopped ghost still in state")
	}
	sick := a.State.Forwards["sick"]
	if sick.Restarts != 3 || sick.Handle == sickH || sick.Handle.IsZero() {
		t.Errorf("restarted state = %+v, want Restarts 3 and a new handle", sick)
	}
	moved := a.State.Forwards["moved"]
	if moved.LocalPort != 9100 || moved.Restarts != 0 || moved.Handle == movedH {
		t.Errorf("replaced state = %+v", moved)
	}
	if n := rt.alive(); n != 2 {
		t.Fatalf("%d processes alive, want 2 (the new sick and moved)", n)
	}
	lines := outputLines(out)
	for _, l := range []string{
		"forward.old: stopped",
		"forward.ghost: stopped",
		"forward.sick: restarted on 127.0.0.1:9000 (1 attempt)",
		"forward.moved: replaced on 127.0.0.1:9100 (1 attempt; spec changed: local_port)",
	} {
		if !hasLine(lines, l) {
			t.Errorf("progress lacks %q:\n%s", l, strings.Join(lines, "\n"))
		}
	}
}

func TestApplyPortInUseMoves(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.setScript("api", func(s *fakeScript) { s.busyPorts = map[int]bool{8080: true} })
	a, out := newTestApplier(rt, 3)
	// 8081 is free but another change of the plan uses it; 8082 is taken.
	a.PortFree = func(_ string, port int) bool { return port != 8082 }

	res := a.Apply(context.Background(), Plan{Changes: []Change{
		{Name: "api", Action: Start, Port: 8080, Desired: fwd("api", 8080)},
		{Name: "web", Action: Start, Port: 8081, Desired: fwd("web", 8081)},
	}})
	if res.Failed != 0 {
		t.Fatalf("Failed = %d: %+v", res.Failed, res.Outcomes)
	}
	if o := res.Outcomes[0]; o.Port != 8083 || o.Attempts != 2 {
		t.Fatalf("api outcome = %+v, want port 8083 after 2 attempts", o)
	}
	if f := a.State.Forwards["api"]; f.LocalPort != 8083 || f.WantedPort != 8080 {
		t.Fatalf("api state = %+v, want local 8083 wanted 8080", f)
	}
	if l := "forward.api: started on 127.0.0.1:8083 (2 attempts; port 8080 was in use)"; !hasLine(outputLines(out), l) {
		t.Fatalf("progress lacks %q:\n%s", l, strings.Join(outputLines(out), "\n"))
	}
}

// startChanges is a plan's changes starting n forwards a, b, c… on ports 9000+i.
func startChanges(n int) []Change {
	var changes []Change
	for i := range n {
		name := string(rune('a' + i))
		changes = append(changes, Change{Name: name, Action: Start, Port: 9000 + i, Desired: fwd(name, 9000+i)})
	}
	return changes
}

func TestApplyParallelBound(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.gate = make(chan struct{})
	a, _ := newTestApplier(rt, 0)
	a.MaxParallel = 3
	done := make(chan Result)
	go func() { done <- a.Apply(context.Background(), Plan{Changes: startChanges(10)}) }()

	// Let every start through one at a time; at most 3 may ever wait.
	deadline := time.After(10 * time.Second)
	for range 10 {
		select {
		case rt.gate <- struct{}{}:
		case <-deadline:
			t.Fatal("starts did not proceed")
		}
	}
	res := <-done
	if res.Failed != 0 {
		t.Fatalf("Failed = %d", res.Failed)
	}
	rt.mu.Lock()
	peak := rt.maxInflight
	rt.mu.Unlock()
	if peak > 3 {
		t.Fatalf("%d starts ran at once, MaxParallel is 3", peak)
	}
	if len(a.State.Forwards) != 10 {
		t.Fatalf("%d forwards in state, want 10", len(a.State.Forwards))
	}
}

func TestApplyParallelReachesBound(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.gate = make(chan struct{})
	a, _ := newTestApplier(rt, 0)
	a.MaxParallel = 3
	done := make(chan Result)
	go func() { done <- a.Apply(context.Background(), Plan{Changes: startChanges(6)}) }()
	expectPeak(t, rt, done, 3)
}

func TestApplyCancelled(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.setScript("api", func(s *fakeScript) { s.failAll = true })
	a, _ := newTestApplier(rt, 0)
	a.NewBackOff = func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }
	ctx, cancel := context.WithCancel(context.Background())
	rt.onStart = func(runtime.Spec) { cancel() }
	res := a.Apply(ctx, Plan{Changes: []Change{{Name: "api", Action: Start, Port: 8080, Desired: fwd("api", 8080)}}})
	o := res.Outcomes[0]
	if o.Err == nil || !strings.Contains(o.Err.Error(), "context canceled") || o.Attempts != 1 {
		t.Fatalf("outcome = %+v, want a cancelled error after 1 attempt", o)
	}
}

// TestApplyDrainsOnCancel: a cancel (the first Ctrl-C) during a start lets
// that start finish and be recorded, so no process is left untracked, and
// no further change begins.
func TestApplyDrainsOnCancel(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	a, _ := newTestApplier(rt, 0)
	a.MaxParallel = 1
	ctx, cancel := context.WithCancel(context.Background())
	rt.onStart = func(s runtime.Spec) {
		if s.Name == "api" {
			cancel()
		}
	}
	res := a.Apply(ctx, Plan{Changes: []Change{
		{Name: "api", Action: Start, Port: 8080, Desired: fwd("api", 8080)},
		{Name: "web", Action: Start, Port: 8081, Desired: fwd("web", 8081)},
	}})
	if o := res.Outcomes[0]; o.Err != nil {
		t.Fatalf("the start under way when cancelled: %+v, want it finished", o)
	}
	if h := a.State.Forwards["api"].Handle; h.IsZero() {
		t.Fatal("the process started during the cancel is not in the state")
	}
	if o := res.Outcomes[1]; o.Err == nil || !errors.Is(o.Err, context.Canceled) {
		t.Fatalf("a change not begun before the cancel: %+v, want context.Canceled", o)
	}
	if n := len(rt.startCalls()); n != 1 {
		t.Fatalf("%d starts after the cancel, want 1", n)
	}
}

// TestApplySavesEachResult: with results saveEvery apart, each is on disk
// before the next change starts.
func TestApplySavesEachResult(t *testing.T) {
	t.Parallel()
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rt := newFakeRuntime(nil)
	rt.setScript("b", func(s *fakeScript) { s.failAll, s.permanent = true, true })
	a, _ := newTestApplier(rt, 0)
	a.Store, a.MaxParallel = store, 1
	var mu sync.Mutex
	clock := applyNow
	a.Now = func() time.Time { // every reading a save interval later
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(saveEvery)
		return clock
	}
	old := startFake(t, rt, "old", 9009)
	a.State.Forwards["old"] = old
	if err := store.Save(a.State); err != nil {
		t.Fatal(err)
	}

	onDisk := func() map[string]state.Forward {
		f, err := store.Load()
		if err != nil {
			t.Fatal(err)
		}
		return f.Forwards
	}
	seen := map[string]map[string]state.Forward{}
	rt.onStart = func(s runtime.Spec) { seen[s.Name] = onDisk() }

	res := a.Apply(context.Background(), Plan{Changes: []Change{
		{Name: "a", Action: Start, Port: 9001, Desired: fwd("a", 9001)},
		{Name: "b", Action: Start, Port: 9002, Desired: fwd("b", 9002)},
		{Name: "c", Action: Start, Port: 9003, Desired: fwd("c", 9003)},
		{Name: "old", Action: Stop, Prior: &old},
	}})
	if res.Failed != 1 {
		t.Fatalf("Failed = %d, want 1", res.Failed)
	}
	if f, ok := seen["b"]["a"]; !ok || f.Handle.IsZero() {
		t.Errorf("when b started, state on disk had a = %+v (present %v), want a's handle", f, ok)
	}
	if f, ok := seen["c"]["b"]; !ok || f.LastError == "" || !f.Handle.IsZero() {
		t.Errorf("when c started, state on disk had b = %+v (present %v), want its error", f, ok)
	}
	final := onDisk()
	if _, ok := final["old"]; ok {
		t.Error("stopped forward still on disk")
	}
	if f := final["c"]; f.Handle.IsZero() {
		t.Errorf("c on disk = %+v, want a handle", f)
	}
}

// TestApplyCoalescesSaves: results that arrive within saveEvery of the last
// save are written together — by the next save or when Apply ends — so
// applying many fast forwards is not a state write each; nothing is lost.
func TestApplyCoalescesSaves(t *testing.T) {
	t.Parallel()
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rt := newFakeRuntime(nil)
	a, _ := newTestApplier(rt, 0) // a clock that never moves
	a.Store, a.MaxParallel = store, 1
	onDisk := func() map[string]state.Forward {
		f, err := store.Load()
		if err != nil {
			t.Fatal(err)
		}
		return f.Forwards
	}
	seen := map[string]map[string]state.Forward{}
	rt.onStart = func(s runtime.Spec) { seen[s.Name] = onDisk() }
	var changes []Change
	for i, n := range []string{"a", "b", "c", "d"} {
		changes = append(changes, Change{Name: n, Action: Start, Port: 9001 + i, Desired: fwd(n, 9001+i)})
	}
	res := a.Apply(context.Background(), Plan{Changes: changes})
	if res.Failed != 0 || res.SaveErr != nil {
		t.Fatalf("Apply = %+v", res)
	}
	if _, ok := seen["b"]["a"]; !ok {
		t.Error("the first result was not saved at once")
	}
	if n := len(seen["d"]); n != 1 {
		t.Errorf("when d started, %d forwards were on disk, want 1 (b and c put off)", n)
	}
	if final := onDisk(); len(final) != 4 {
		t.Errorf("after Apply, %d forwards on disk, want all 4", len(final))
	}
}

// parallelRuntime is the fake runtime that takes more starts at once
// than max_parallel (runtime.Parallelism), like the native agent.
type parallelRuntime struct{ *fakeRuntime }

func (parallelRuntime) Parallel(string) int { return 5 }

// TestApplyParallelPerRuntime: a runtime that says its starts are cheap
// gets its own, larger bound; max_parallel stays the floor.
func TestApplyParallelPerRuntime(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.gate = make(chan struct{})
	a, _ := newTestApplier(parallelRuntime{rt}, 0)
	a.MaxParallel = 2
	done := make(chan Result)
	go func() { done <- a.Apply(context.Background(), Plan{Changes: startChanges(8)}) }()
	expectPeak(t, rt, done, 5)
}

// expectPeak waits until want starts of the gated fake runtime are in
// flight at once, opens the gate, waits for Apply (done) and checks that
// the peak was exactly want.
func expectPeak(t *testing.T, rt *fakeRuntime, done <-chan Result, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt.mu.Lock()
		n := rt.inflight
		rt.mu.Unlock()
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d starts in flight, want %d at once", n, want)
		}
		time.Sleep(time.Millisecond)
	}
	close(rt.gate)
	<-done
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.maxInflight != want {
		t.Fatalf("peak %d starts in flight, want exactly %d", rt.maxInflight, want)
	}
}

// TestApplyPassesMaxConnections: the spec's max_connections reaches the
// runtime and the state (which the next plan compares it with).
func TestApplyPassesMaxConnections(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	var mu sync.Mutex
	var got []int
	rt.onStart = func(s runtime.Spec) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s.MaxConnections)
	}
	a, _ := newTestApplier(rt, 0)
	capped := fwd("api", 8080)
	capped.MaxConnections = 7
	res := a.Apply(context.Background(), Plan{Changes: []Change{
		{Name: "api", Action: Start, Port: 8080, Desired: capped},
		{Name: "web", Action: Start, Port: 8081, Desired: fwd("web", 8081)},
	}})
	if res.Failed != 0 {
		t.Fatalf("apply: %+v", res)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 7}) {
		t.Errorf("runtime got max connections %v, want [0 7]", got)
	}
	if n := a.State.Forwards["api"].MaxConnections; n != 7 {
		t.Errorf("state of api: max connections %d, want 7", n)
	}
}

// TestApplyUnreachableContext: Reach is asked once per context that has
// something to start; the changes of an unreachable one fail at once
// (permanent, no runtime call, one progress line naming its forwards): a
// new forward is recorded as failed with the reason, a running one to be
// restarted is left running. Other contexts are applied, and a stop of a
// forward that never started is told apart from a stop.
func TestApplyUnreachableContext(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	a, out := newTestApplier(rt, 5)
	var mu sync.Mutex
	asked := map[string]int{}
	a.Reach = func(_ context.Context, kc string) error {
		mu.Lock()
		defer mu.Unlock()
		asked[kc]++
		if kc == "gone" {
			return errors.New("cluster gone at https://127.0.0.1:1 is unreachable: connection refused")
		}
		return nil
	}
	inGone := func(name string, port int) *model.Forward { f := fwd(name, port); f.Context = "gone"; return f }
	running := startFake(t, rt, "sick", 9001)
	running.Context = "gone"
	a.State.Forwards["sick"] = running
	neverRan := state.Forward{Name: "failed", LastError: "earlier"}
	a.State.Forwards["failed"] = neverRan
	p := Plan{Changes: []Change{
		{Name: "a", Action: Start, Port: 9002, Desired: inGone("a", 9002)},
		{Name: "b", Action: Start, Port: 9003, Desired: inGone("b", 9003)},
		{Name: "failed", Action: Stop, Prior: &neverRan},
		{Name: "ok", Action: Start, Port: 9004, Desired: fwd("ok", 9004)},
		{Name: "sick", Action: Restart, Port: 9001, Desired: inGone("sick", 9001), Prior: &running},
	}}
	before := len(rt.startCalls()) // sick's start
	res := a.Apply(context.Background(), p)

	if asked["gone"] != 1 || asked["kind-dev"] != 1 || len(asked) != 2 {
		t.Errorf("Reach asked %v, want once per context with starts", asked)
	}
	if res.Failed != 3 {
		t.Errorf("Failed = %d, want 3 (a, b, sick): %+v", res.Failed, res.Outcomes)
	}
	for _, o := range res.Outcomes {
		switch o.Name {
		case "a", "b", "sick":
			if !o.Permanent || o.Attempts != 0 || o.Err == nil || !strings.Contains(o.Err.Error(), "is unreachable") {
				t.Errorf("%s: %+v, want a permanent unreachable error and no attempt", o.Name, o)
			}
		case "failed":
			if o.Err != nil || !o.NeverRan {
				t.Errorf("failed: %+v, want removed as never started", o)
			}
		}
	}
	if calls := rt.startCalls()[before:]; len(calls) != 1 || calls[0].Name != "ok" {
		t.Errorf("runtime starts %+v, want only ok", calls)
	}
	if stops := rt.stopCalls(); len(stops) != 0 {
		t.Errorf("Stop called %v: sick must keep running while its cluster is unreachable", stops)
	}
	if got := a.State.Forwards["sick"].Handle; got != running.Handle {
		t.Errorf("sick's record changed: %v", got)
	}
	for _, name := range []string{"a", "b"} {
		if f := a.State.Forwards[name]; !f.Handle.IsZero() || !strings.Contains(f.LastError, "is unreachable") {
			t.Errorf("%s recorded as %+v, want failed with the reason", name, f)
		}
	}
	lines := outputLines(out)
	want := "forward.a, forward.b, forward.sick: not applied: cluster gone at https://127.0.0.1:1 is unreachable: connection refused"
	if !hasLine(lines, want) || !hasLine(lines, "forward.failed: removed (it never started)") || strings.Count(strings.Join(lines, "\n"), "unreachable") != 1 {
		t.Errorf("progress:\n%s\nwant one line %q and the removal", strings.Join(lines, "\n"), want)
	}
}

// TestApplyHandsOffAPort: a forward that starts on the port another
// change frees (a running forward moving off a port the first asks for by
// number) starts only once the old process is stopped, whatever the order
// of the plan and even one action at a time.
func TestApplyHandsOffAPort(t *testing.T) {
	t.Parallel()
	for _, parallel := range []int{1, 10} {
		t.Run(fmt.Sprintf("max_parallel %d", parallel), func(t *testing.T) {
			t.Parallel()
			rt := newFakeRuntime(nil)
			a, _ := newTestApplier(rt, 0)
			a.MaxParallel = parallel
			zzz := startFake(t, rt, "zzz", 9001)
			zzz.WantedPort = 9000
			a.State.Forwards["zzz"] = zzz
			rt.onStart = func(s runtime.Spec) {
				if st, _ := rt.Inspect(context.Background(), zzz.Handle); s.Name == "aaa" && st.Alive {
					t.Errorf("aaa started on %d while zzz's old process still held it", s.LocalPort)
				}
			}
			inFake := func(f *model.Forward) *model.Forward { f.Runtime = "fake"; return f } // one bound for both
			p := Plan{Changes: []Change{
				{Name: "aaa", Action: Start, Port: 9001, Desired: inFake(fwd("aaa", 9001))},
				{Name: "zzz", Action: Restart, Reason: "port 9001 is asked for by forward.aaa", Port: 9002, Desired: inFake(fwd("zzz", 9000)), Prior: &zzz},
			}}
			res := a.Apply(context.Background(), p)
			if res.Failed != 0 {
				t.Fatalf("Failed = %d: %+v", res.Failed, res.Outcomes)
			}
			if res.Outcomes[0].Name != "aaa" || res.Outcomes[1].Name != "zzz" {
				t.Errorf("outcomes not in plan order: %+v", res.Outcomes)
			}
			if got := a.State.Forwards["aaa"].LocalPort; got != 9001 {
				t.Errorf("aaa on %d, want 9001", got)
			}
		})
	}
}
