package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/reconcile/ports"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// BenchmarkWatchIdlePass100 measures one idle watch pass: reload (a
// stub), observe 100 alive, healthy forwards through a fake runtime with
// cached probe results, and a Diff with nothing to do.
func BenchmarkWatchIdlePass100(b *testing.B) {
	clk := NewFakeClock(watchStart)
	rt := newFakeRuntime(clk.Now)
	forwards := make([]model.Forward, 100)
	for i := range forwards {
		f := fwd(fmt.Sprintf("fwd-%03d", i), 51000+i)
		f.Health = model.Health{Kind: model.HealthTCP, Interval: 5 * time.Second}
		forwards[i] = *f
	}
	settings := model.Settings{CheckInterval: 2 * time.Second, MaxParallel: 10}
	prober := newFakeProber()
	w := &Watcher{
		Load:     func(context.Context) ([]model.Forward, model.Settings, error) { return forwards, settings, nil },
		Observer: &Observer{Runtime: rt, Prober: prober, Now: clk.Now},
		Applier:  &Applier{Runtime: rt, State: &state.File{Version: state.Version}, Now: clk.Now},
		Ports:    ports.NewCache(time.Hour, clk.Now),
		Clock:    clk,
	}
	ctx := context.Background()
	ws := &watchState{retry: map[string]*forwardRetry{}}
	w.pass(ctx, ws) // starts all 100
	// Healthy long enough that every backoff is forgotten.
	for range 3 {
		clk.Advance(31 * time.Second)
		w.pass(ctx, ws)
	}
	if n := len(rt.startCalls()); n != 100 {
		b.Fatalf("%d starts, want 100", n)
	}
	if len(ws.retry) != 0 {
		b.Fatalf("%d backoffs kept for healthy forwards", len(ws.retry))
	}
	probes := prober.count("fwd-000")

	b.ReportAllocs()
	for b.Loop() {
		w.pass(ctx, ws)
	}

	if n := len(rt.startCalls()); n != 100 {
		b.Fatalf("an idle pass started forwards: %d starts", n)
	}
	if prober.count("fwd-000") != probes {
		b.Fatal("probe results were not reused within the interval")
	}
	if len(ws.retry) != 0 || len(w.Observer.records) != 100 {
		b.Fatalf("state grows: %d backoffs, %d probe records", len(ws.retry), len(w.Observer.records))
	}
}
