package runtime

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// recorder is a Runtime that names its handles after itself and records
// what it was asked.
type recorder struct {
	name  string
	calls []string
}

func (r *recorder) Start(_ context.Context, s Spec) (Handle, error) {
	r.calls = append(r.calls, "start "+s.Name)
	return Handle{Runtime: r.name, ID: s.Name}, nil
}

func (r *recorder) Stop(_ context.Context, h Handle) error {
	r.calls = append(r.calls, "stop "+h.ID)
	return nil
}

func (r *recorder) Inspect(_ context.Context, h Handle) (Status, error) {
	r.calls = append(r.calls, "inspect "+h.ID)
	return Status{Alive: true}, nil
}

// eventer also reports an exit for every handle it is asked about.
type eventer struct{ recorder }

func (e *eventer) Watch(ctx context.Context, hs []Handle) <-chan Event {
	out := make(chan Event)
	go func() {
		defer close(out)
		for _, h := range hs {
			select {
			case out <- Event{Handle: h, Kind: EventExited}:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return out
}

func TestMux(t *testing.T) {
	ctx := context.Background()
	a, b := &recorder{name: "a"}, &eventer{recorder{name: "b"}}
	m := &Mux{Default: "a", Runtimes: map[string]Runtime{"a": a, "b": b}}

	ha, err := m.Start(ctx, Spec{Name: "x"})
	if err != nil || ha.Runtime != "a" {
		t.Fatalf("default start: %v %v", ha, err)
	}
	hb, err := m.Start(ctx, Spec{Name: "y", Runtime: "b"})
	if err != nil || hb.Runtime != "b" {
		t.Fatalf("named start: %v %v", hb, err)
	}
	if _, err := m.Start(ctx, Spec{Name: "z", Runtime: "c"}); !IsPermanent(err) {
		t.Errorf("unknown runtime: %v, want permanent", err)
	}
	// Stopped and inspected by the runtime that made the handle, whatever
	// the default is now.
	m.Default = "b"
	if err := m.Stop(ctx, ha); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Inspect(ctx, hb); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(ctx, Handle{Runtime: "gone", ID: "1"}); !IsPermanent(err) {
		t.Errorf("handle of an unknown runtime: %v, want permanent (never touched)", err)
	}
	if err := m.Stop(ctx, Handle{}); err != nil {
		t.Errorf("zero handle: %v", err)
	}
	if got := len(a.calls); got != 2 || a.calls[1] != "stop x" {
		t.Errorf("a's calls %q", a.calls)
	}
	if got := len(b.calls); got != 2 || b.calls[1] != "inspect y" {
		t.Errorf("b's calls %q", b.calls)
	}

	// Events come from runtimes that report them, each for its handles.
	wctx, cancel := context.WithCancel(ctx)
	ch := m.Watch(wctx, []Handle{ha, hb})
	select {
	case ev := <-ch:
		if ev.Handle != hb {
			t.Errorf("event for %v, want %v", ev.Handle, hb)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	cancel()
	for range ch {
	}
}

func TestData(t *testing.T) {
	d, err := NewData(map[string]int{"pid": 7})
	if err != nil {
		t.Fatal(err)
	}
	h := Handle{Runtime: "k", ID: "7", Data: d}
	var back struct{ PID int }
	if err := h.Data.Decode(&back); err != nil || back.PID != 7 {
		t.Fatalf("decode: %+v %v", back, err)
	}
	var again Handle
	if err := again.Data.UnmarshalJSON([]byte(`{ "pid" : 7 }`)); err != nil || again.Data != d {
		t.Fatalf("compacted %q, want %q (%v)", again.Data, d, err)
	}
	if err := (Data("")).Decode(&back); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("empty data: %v", err)
	}
}

// logger keeps logs of its own and a process between forwards.
type logger struct {
	recorder
	stopErr error
}

func (l *logger) Logs(_ context.Context, h Handle, follow bool, w io.Writer) error {
	_, err := io.WriteString(w, "log of "+h.ID+"\n")
	return err
}

func (l *logger) StopIdle(context.Context) error {
	l.calls = append(l.calls, "stop-idle")
	return l.stopErr
}

// TestMuxLogsAndIdle: what cmd asks of the Mux instead of its runtimes.
func TestMuxLogsAndIdle(t *testing.T) {
	ctx := context.Background()
	plain, keeper := &recorder{name: "plain"}, &logger{recorder: recorder{name: "keeper"}}
	m := &Mux{Default: "plain", Runtimes: map[string]Runtime{"plain": plain, "keeper": keeper}}
	for _, tt := range []struct {
		h     Handle
		keeps bool
		log   string
		perm  bool
	}{
		{Handle{Runtime: "keeper", ID: "api"}, true, "log of api\n", false},
		{Handle{Runtime: "plain", ID: "db"}, false, "", true},
		{Handle{Runtime: "gone", ID: "x"}, false, "", true},
	} {
		if got := m.KeepsLogs(tt.h); got != tt.keeps {
			t.Errorf("KeepsLogs(%s) = %v, want %v", tt.h, got, tt.keeps)
		}
		var b strings.Builder
		err := m.Logs(ctx, tt.h, false, &b)
		if b.String() != tt.log || (err != nil) != tt.perm || tt.perm && !IsPermanent(err) {
			t.Errorf("Logs(%s) = %q, %v; want %q (permanent error %v)", tt.h, b.String(), err, tt.log, tt.perm)
		}
	}
	if err := m.StopIdle(ctx); err != nil || len(keeper.calls) != 1 || len(plain.calls) != 0 {
		t.Errorf("StopIdle = %v; calls %v, %v", err, keeper.calls, plain.calls)
	}
	keeper.stopErr = errors.New("agent hung")
	if err := m.StopIdle(ctx); err == nil || !strings.Contains(err.Error(), "runtime keeper: agent hung") {
		t.Errorf("StopIdle = %v, want the keeper's error", err)
	}
}

// sweeper is a recorder that sweeps (keeping what it is given) and
// inspects in batches, with a chosen error and bound.
type sweeper struct {
	recorder
	err      error
	kept     [][]Handle
	batches  [][]Handle
	parallel int
}

func (s *sweeper) Sweep(_ context.Context, keep []Handle) ([]string, error) {
	s.kept = append(s.kept, keep)
	return []string{"swept by " + s.name}, s.err
}

func (s *sweeper) InspectMany(_ context.Context, hs []Handle) ([]Status, []error) {
	s.batches = append(s.batches, hs)
	sts, errs := make([]Status, len(hs)), make([]error, len(hs))
	for i := range hs {
		sts[i] = Status{Alive: true, Pod: s.name}
	}
	return sts, errs
}

func (s *sweeper) Parallel(string) int { return s.parallel }

// TestMuxSweep: each runtime that sweeps is given its own handles only, in
// the runtimes' name order; one that cannot sweep is skipped; errors are
// joined and name their runtime.
func TestMuxSweep(t *testing.T) {
	a := &sweeper{recorder: recorder{name: "a"}}
	b := &sweeper{recorder: recorder{name: "b"}, err: errors.New("agent unreachable")}
	m := &Mux{Default: "a", Runtimes: map[string]Runtime{"b": b, "a": a, "c": &recorder{name: "c"}}}
	keep := []Handle{{Runtime: "a", ID: "1"}, {Runtime: "b", ID: "2"}, {Runtime: "c", ID: "3"}, {Runtime: "a", ID: "4"}}
	stopped, err := m.Sweep(context.Background(), keep)
	if got, want := strings.Join(stopped, ","), "swept by a,swept by b"; got != want {
		t.Errorf("stopped %q, want %q", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "b runtime: agent unreachable") {
		t.Errorf("error %v, want b's, named", err)
	}
	if len(a.kept) != 1 || len(a.kept[0]) != 2 || a.kept[0][0].ID != "1" || a.kept[0][1].ID != "4" {
		t.Errorf("a kept %v, want its handles 1 and 4", a.kept)
	}
	if len(b.kept) != 1 || len(b.kept[0]) != 1 || b.kept[0][0].ID != "2" {
		t.Errorf("b kept %v, want its handle 2", b.kept)
	}
}

// TestMuxInspectMany: statuses come back in the order asked, each from the
// runtime that made its handle (one batch for a runtime that can, one by
// one otherwise); a handle of an unknown runtime gets Unknown() and an
// error, and the others are still inspected.
func TestMuxInspectMany(t *testing.T) {
	batch := &sweeper{recorder: recorder{name: "batch"}}
	single := &recorder{name: "single"}
	m := &Mux{Default: "batch", Runtimes: map[string]Runtime{"batch": batch, "single": single}}
	hs := []Handle{{Runtime: "single", ID: "s1"}, {Runtime: "batch", ID: "b1"}, {Runtime: "gone", ID: "g1"}, {Runtime: "batch", ID: "b2"}, {Runtime: "single", ID: "s2"}}
	sts, errs := m.InspectMany(context.Background(), hs)
	if len(sts) != len(hs) || len(errs) != len(hs) {
		t.Fatalf("%d statuses and %d errors for %d handles", len(sts), len(errs), len(hs))
	}
	for i, h := range hs {
		switch h.Runtime {
		case "gone":
			if errs[i] == nil || !IsPermanent(errs[i]) || sts[i] != Unknown() {
				t.Errorf("%s: %+v, %v; want Unknown() and a permanent error", h, sts[i], errs[i])
			}
		case "batch":
			if errs[i] != nil || !sts[i].Alive || sts[i].Pod != "batch" {
				t.Errorf("%s: %+v, %v; want batch's answer", h, sts[i], errs[i])
			}
		case "single":
			if errs[i] != nil || !sts[i].Alive {
				t.Errorf("%s: %+v, %v; want single's answer", h, sts[i], errs[i])
			}
		}
	}
	if len(batch.batches) != 1 || len(batch.batches[0]) != 2 {
		t.Errorf("batch runtime asked %v, want one batch of 2", batch.batches)
	}
	if got := strings.Join(single.calls, ","); got != "inspect s1,inspect s2" {
		t.Errorf("single runtime calls %q, want each of its handles once", got)
	}
}

// TestMuxParallel: the named runtime's bound, the default's for "", 0
// from a runtime without an opinion or an unknown one.
func TestMuxParallel(t *testing.T) {
	m := &Mux{Default: "a", Runtimes: map[string]Runtime{
		"a": &sweeper{recorder: recorder{name: "a"}, parallel: 8},
		"b": &recorder{name: "b"},
	}}
	for _, tt := range []struct {
		name string
		want int
	}{{"", 8}, {"a", 8}, {"b", 0}, {"gone", 0}} {
		if got := m.Parallel(tt.name); got != tt.want {
			t.Errorf("Parallel(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}
