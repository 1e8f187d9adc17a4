package native

import (
	goruntime "runtime"
	"runtime/debug"
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

func TestReleaserDefaultsToReleaseMemory(t *testing.T) {
	r := &releaser{Delay: time.Millisecond, Every: time.Millisecond}
	r.tunnelClosed(0)
	waitFor(t, "the release to run", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.last.IsZero()
	})
}

// TestHeldFromOS: what the urgent release compares with its floor follows
// the memory the process takes from the OS and gives back.
func TestHeldFromOS(t *testing.T) {
	const size = 64 << 20
	var r releaser // Held nil: MemStats
	releaseMemory()
	base := r.heldNow(nil)
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // touched, so mapped for certain
	}
	if held := r.heldNow(nil); held < base+size*3/4 {
		t.Fatalf("held %d MB with %d MB allocated on top of %d MB", held>>20, size>>20, base>>20)
	}
	goruntime.KeepAlive(b)
	b = nil
	releaseMemory()
	if held := r.heldNow(nil); held > base+size/2 {
		t.Errorf("held %d MB after the %d MB were released, %d MB before they were allocated", held>>20, size>>20, base>>20)
	}
}

// TestReleaseMemoryFreesPooledBuffers: buffers left in a sync.Pool (the
// engine's per-connection buffers after a flood) are given back by one
// release; a single forced collection (debug.FreeOSMemory alone) keeps
// them live.
func TestReleaseMemoryFreesPooledBuffers(t *testing.T) {
	const n, size = 64, 1 << 20
	inUse := func() uint64 {
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return m.HeapInuse
	}
	fill := func(p *sync.Pool) {
		bufs := make([]*[]byte, n)
		for i := range bufs {
			b := make([]byte, size)
			bufs[i] = &b
		}
		for _, b := range bufs {
			p.Put(b)
		}
	}
	goruntime.GC()
	goruntime.GC()
	base := inUse()

	var once sync.Pool
	fill(&once)
	debug.FreeOSMemory()
	if got := inUse(); got < base+n*size/2 {
		t.Fatalf("heap in use %d MB after one forced collection, base %d MB: the pool's buffers are gone already, so this test shows nothing", got>>20, base>>20)
	}
	releaseMemory() // frees once's buffers too, before the real test
	base = inUse()

	var pool sync.Pool
	fill(&pool)
	releaseMemory()
	if got := inUse(); got > base+n*size/4 {
		t.Errorf("heap in use %d MB after releaseMemory, base %d MB: the pooled %d MB are still live", got>>20, base>>20, n*size>>20)
	}
	goruntime.KeepAlive(&once)
	goruntime.KeepAlive(&pool)
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

// releaseClock is a fake clock for a releaser: timers fire when advance
// passes them, in order, on the test's goroutine.
type releaseClock struct {
	now    time.Time
	timers []releaseTimer
}

type releaseTimer struct {
	at time.Time
	f  func()
}

func (c *releaseClock) afterFunc(d time.Duration, f func()) {
	c.timers = append(c.timers, releaseTimer{c.now.Add(d), f})
}

func (c *releaseClock) advance(d time.Duration) {
	end := c.now.Add(d)
	for {
		i := slices.IndexFunc(c.timers, func(t releaseTimer) bool { return !t.at.After(end) })
		if i < 0 {
			break
		}
		t := c.timers[i]
		c.timers = slices.Delete(c.timers, i, i+1)
		c.now = t.at
		t.f()
	}
	c.now = end
}

// TestReleaserHoldsBackWhileBytesMove: a due release waits while the
// connections carry bytes, runs Quiet after the last one, and never waits
// longer than MaxHold.
func TestReleaserHoldsBackWhileBytesMove(t *testing.T) {
	const (
		delay   = time.Second
		quiet   = 200 * time.Millisecond
		maxHold = 5 * time.Second
		tick    = 50 * time.Millisecond
	)
	for _, tt := range []struct {
		name string
		busy time.Duration // bytes move from the close on, for this long (-1: never stop)
		want time.Duration // the release, after the close
	}{
		{"quiet: at Delay", 0, delay},
		{"busy shorter than Delay: at Delay", delay / 2, delay},
		{"busy past Delay: once quiet for Quiet", 2500 * time.Millisecond, 2500*time.Millisecond + quiet},
		{"never quiet: at Delay + MaxHold", -1, delay + maxHold},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := &releaseClock{now: time.Unix(1e9, 0)}
			var carried int64
			var at []time.Duration
			start := clock.now
			r := &releaser{Delay: delay, Every: 30 * time.Second, Quiet: quiet, MaxHold: maxHold,
				Carried: func() int64 { return carried },
				Release: func() { at = append(at, clock.now.Sub(start)) },
				now:     func() time.Time { return clock.now }, afterFunc: clock.afterFunc}
			r.schedule() // a connection closed
			for elapsed := time.Duration(0); elapsed < 10*time.Second; elapsed += tick {
				if tt.busy < 0 || elapsed < tt.busy {
					carried += 32 << 10 // a chunk within this tick
				}
				clock.advance(tick)
			}
			// Carried is checked every Quiet: a release held back comes
			// Quiet to twice Quiet after the last byte.
			if len(at) != 1 || at[0] < tt.want || at[0] > tt.want+quiet {
				t.Errorf("releases at %v after the close, want one at %s (within %s)", at, tt.want, quiet)
			}
		})
	}
}

// TestReleaserUrgentAfterSurge: under steady traffic and steady closes, a
// release comes every Every + MaxHold; while the agent holds Surge beyond
// its floor, every SurgeEvery + SurgeHold, and without SurgeEvery once
// half the connections open at the last release have closed. The floor
// follows what each release left, but a release amid a surge leaves it
// where it was, for floorAge at most. No release is urgent before the
// first.
func TestReleaserUrgentAfterSurge(t *testing.T) {
	const mb = 1 << 20
	// every lists the releases from first, step apart, up to last.
	every := func(first, step, last int) []int {
		var at []int
		for s := first; s <= last; s += step {
			at = append(at, s)
		}
		return at
	}
	for _, tt := range []struct {
		name  string
		held  func(sec float64) uint64 // the agent's memory at a time
		conns func(sec float64) int64  // connections open at a time; nil: 100
		want  []int                    // releases, in seconds after the first close
	}{
		{"steady: Every + MaxHold", func(float64) uint64 { return 40 * mb }, nil,
			[]int{31, 91, 151, 211}},
		{"a flood from 35 s to 100 s: SurgeEvery + SurgeHold", func(s float64) uint64 {
			if s >= 35 && s < 100 {
				return 120 * mb
			}
			return 40 * mb
		}, nil, []int{31, 43, 55, 67, 79, 91, 151, 211}},
		{"a flood's connections close: no SurgeEvery after the release amid them", func(s float64) uint64 {
			if s >= 35 && s < 60 {
				return 150 * mb
			}
			return 40 * mb
		}, func(s float64) int64 {
			if s >= 35 && s < 45 {
				return 2100
			}
			return 100
		}, []int{31, 43, 47, 59, 119, 179}},
		{"the floor follows what each release left, up too", func(s float64) uint64 {
			switch {
			case s >= 100:
				return 80 * mb // 40 above the first release's level, 20 above the last's
			case s >= 32:
				return 60 * mb
			}
			return 40 * mb
		}, nil, []int{31, 91, 151, 211}},
		{"grown for good: urgent until floorAge passed", func(s float64) uint64 {
			if s >= 32 {
				return 80 * mb
			}
			return 40 * mb
		}, nil, append(every(31, 12, 343), 403, 463)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const tick = 50 * time.Millisecond
			clock := &releaseClock{now: time.Unix(1e9, 0)}
			start := clock.now
			sec := func() float64 { return clock.now.Sub(start).Seconds() }
			var carried int64
			var at []int
			r := &releaser{Delay: time.Second, Every: 30 * time.Second,
				Quiet: 200 * time.Millisecond, MaxHold: 30 * time.Second,
				Surge: 32 * mb, SurgeEvery: 10 * time.Second, SurgeHold: 2 * time.Second,
				Carried: func() int64 { return carried },
				Held:    func() uint64 { return tt.held(sec()) },
				Conns: func() int64 {
					if tt.conns == nil {
						return 100
					}
					return tt.conns(sec())
				},
				Release: func() { at = append(at, int(sec()+0.5)) },
				now:     func() time.Time { return clock.now }, afterFunc: clock.afterFunc}
			end := time.Duration(tt.want[len(tt.want)-1]+5) * time.Second
			for clock.now.Sub(start) < end {
				r.schedule() // connections close all the time
				carried += 32 << 10
				clock.advance(tick)
			}
			if !slices.Equal(at, tt.want) {
				t.Errorf("releases at %v s, want %v", at, tt.want)
			}
		})
	}
}
