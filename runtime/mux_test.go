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
