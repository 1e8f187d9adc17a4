package native

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testwait"
)

func TestReleaserCoalescesAndRateLimits(t *testing.T) {
	r, rec := recordingReleaser()
	count := rec.count
	t0 := time.Now()
	for range 50 { // a burst of closes: one release
		r.tunnelClosed(0)
	}
	waitFor(t, "the first release", func() bool { return count() == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("%d releases for one burst, want 1", n)
	}
	r.tunnelClosed(3) // within Every of the first: waits for it
	waitFor(t, "the second release", func() bool { return count() == 2 })
	at := rec.times()
	first, second := at[0].Sub(t0), at[1].Sub(at[0])
	if first < r.Delay {
		t.Errorf("first release after %s, want ≥ Delay %s", first, r.Delay)
	}
	// Every counts from when the first release began; the Release func
	// stamps a moment later.
	if slack := 10 * time.Millisecond; second < r.Every-slack {
		t.Errorf("second release %s after the first, want ≥ Every %s", second, r.Every)
	}
}

// TestReleaserAfterConnections: closed connections make releases as
// closed tunnels do: one per burst, none sooner than Every after the last.
func TestReleaserAfterConnections(t *testing.T) {
	r, rec := recordingReleaser()
	count := rec.count
	for range 2000 { // a flood's connections closing
		r.schedule()
	}
	waitFor(t, "the release after the burst", func() bool { return count() == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("%d releases for one burst, want 1", n)
	}
	r.schedule() // within Every of the first: waits for it
	waitFor(t, "the second release", func() bool { return count() == 2 })
	at := rec.times()
	second := at[1].Sub(at[0])
	if slack := 10 * time.Millisecond; second < r.Every-slack {
		t.Errorf("second release %s after the first, want ≥ Every %s", second, r.Every)
	}
}

func TestReleaserDefaultsToFreeOSMemory(t *testing.T) {
	r := &releaser{Delay: time.Millisecond, Every: time.Millisecond}
	r.tunnelClosed(0)
	waitFor(t, "the release to run", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.last.IsZero()
	})
}

// releases records when a releaser released.
type releases struct {
	mu sync.Mutex
	at []time.Time
}

func (r *releases) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.at)
}

func (r *releases) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

// recordingReleaser is a releaser (Delay 20 ms, Every 300 ms) whose
// releases are recorded, not made.
func recordingReleaser() (*releaser, *releases) {
	rec := &releases{}
	return &releaser{Delay: 20 * time.Millisecond, Every: 300 * time.Millisecond, Release: func() {
		rec.mu.Lock()
		rec.at = append(rec.at, time.Now())
		rec.mu.Unlock()
	}}, rec
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 5*time.Second, 5*time.Millisecond, what, cond)
}
