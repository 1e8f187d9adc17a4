package testwait

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestForWaitsUntilTheConditionHolds(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Millisecond} {
		var calls atomic.Int64
		For(t, 5*time.Second, interval, "the third call", func() bool { return calls.Add(1) == 3 })
		if n := calls.Load(); n != 3 {
			t.Errorf("interval %s: %d calls, want 3", interval, n)
		}
	}
}

// fatalRecorder is a testing.TB whose Fatalf ends the goroutine, as the
// real one does, and records that it was called.
type fatalRecorder struct {
	testing.TB
	failed atomic.Bool
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(string, ...any) {
	r.failed.Store(true)
	runtime.Goexit()
}

func TestForFailsAfterWithin(t *testing.T) {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		For(r, 20*time.Millisecond, time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !r.failed.Load() {
		t.Error("For returned without failing for a condition that never holds")
	}
}
