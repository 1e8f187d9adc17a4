package ports

import (
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testwait"
)

// fakeTicker is a ticker the test drives.
type fakeTicker struct {
	c       chan time.Time
	mu      sync.Mutex
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

func (t *fakeTicker) isStopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopped
}

// tickers hands out fakeTickers and remembers them.
type tickers struct {
	mu  sync.Mutex
	all []*fakeTicker
}

func (ts *tickers) new(time.Duration) ticker {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time)}
	ts.all = append(ts.all, t)
	return t
}

func (ts *tickers) last() *fakeTicker {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.all[len(ts.all)-1]
}

func TestCoarseClockLifecycle(t *testing.T) {
	t.Parallel()
	wall := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var ts tickers
	const lease = 4
	c := newCoarseClock(time.Millisecond, lease, wall.Now, ts.new)

	if running, starts, _ := c.state(); running || starts != 0 {
		t.Fatalf("before any read: running=%v starts=%d, want a stopped clock that never ran", running, starts)
	}
	if got, want := c.now(), wall.Now().UnixNano(); got != want {
		t.Fatalf("first read = %d, want the wall clock %d", got, want)
	}
	running, starts, done := c.state()
	if !running || starts != 1 {
		t.Fatalf("after the first read: running=%v starts=%d, want running, started once", running, starts)
	}

	// Reads between ticks return the last tick's time: one atomic load.
	wall.Add(300 * time.Microsecond)
	if got, want := c.now(), time.Unix(1_700_000_000, 0).UnixNano(); got != want {
		t.Errorf("read between ticks = %d, want the last tick %d", got, want)
	}
	// Each tick stores the wall clock.
	tk := ts.last()
	for i := 1; i < lease; i++ {
		wall.Add(time.Millisecond)
		tk.c <- time.Time{}
		waitFor(t, func() bool { return c.now() == wall.Now().UnixNano() }, "the tick's time")
	}
	// The lease-th tick stops the goroutine and its ticker.
	tk.c <- time.Time{}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the ticker goroutine did not exit after its lease")
	}
	if !tk.isStopped() {
		t.Error("the ticker was not stopped")
	}
	if running, starts, _ := c.state(); running || starts != 1 {
		t.Errorf("after the lease: running=%v starts=%d, want stopped, started once", running, starts)
	}

	// The next read restarts it with the current time.
	wall.Add(time.Hour)
	if got, want := c.now(), wall.Now().UnixNano(); got != want {
		t.Errorf("read after a stop = %d, want the wall clock %d (not the stale tick)", got, want)
	}
	if running, starts, _ := c.state(); !running || starts != 2 {
		t.Errorf("after a read of a stopped clock: running=%v starts=%d, want running, started twice", running, starts)
	}
	for range lease {
		ts.last().c <- time.Time{}
	}
	_, _, done = c.state()
	<-done
}

func TestCoarseClockConcurrentReadsStartOnce(t *testing.T) {
	t.Parallel()
	var ts tickers
	c := newCoarseClock(time.Millisecond, 2, time.Now, ts.new)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if c.now() == 0 {
					t.Error("read 0")
					return
				}
			}
		})
	}
	wg.Wait()
	if _, starts, _ := c.state(); starts != 1 {
		t.Errorf("started %d times by concurrent reads without a tick, want 1", starts)
	}
	ts.last().c <- time.Time{}
	ts.last().c <- time.Time{}
	_, _, done := c.state()
	<-done
}

// TestCoarseClockReal runs the shared clock for real: it stays within its
// bound of the wall clock while read, and its goroutine exits when nobody
// reads it. The slack allows for a loaded test machine; a clock that does
// not tick is behind by the whole test.
func TestCoarseClockReal(t *testing.T) {
	c := newCoarseClock(coarseTick, coarseLease, time.Now, newRealTicker)
	const slack = 250 * time.Millisecond
	deadline := time.Now().Add(300 * time.Millisecond)
	var worst time.Duration
	for time.Now().Before(deadline) {
		before := time.Now().UnixNano()
		lag := time.Duration(before - c.now())
		worst = max(worst, lag)
		time.Sleep(200 * time.Microsecond)
	}
	if worst > coarseTick+slack {
		t.Errorf("the coarse clock was %v behind the wall clock, want at most %v (+ %v slack)", worst, coarseTick, slack)
	}
	t.Logf("worst lag over 300 ms: %v", worst)

	_, _, done := c.state()
	select {
	case <-done:
	case <-time.After(coarseLease*coarseTick + 10*time.Second):
		t.Fatal("the coarse clock's goroutine still runs with nobody reading it")
	}
	if running, _, _ := c.state(); running {
		t.Error("the clock says it runs after its goroutine exited")
	}
}

// TestCacheUsesCoarseClock: a cache made without a clock reads the shared
// coarse clock when its TTL allows, time.Now otherwise.
func TestCacheUsesCoarseClock(t *testing.T) {
	t.Parallel()
	if c := NewCache(5*time.Second, nil); c.clock != wallClock {
		t.Error("NewCache(5s, nil) does not read the coarse clock")
	}
	if c := NewCache(10*time.Millisecond, nil); c.clock != nil || c.now == nil {
		t.Error("NewCache(10ms, nil) reads the coarse clock although its TTL is shorter than the bound allows")
	}
	fixed := time.Unix(1, 0)
	if c := NewCache(time.Minute, func() time.Time { return fixed }); c.clock != nil || c.nanos() != fixed.UnixNano() {
		t.Error("NewCache with a clock does not read that clock")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testwait.For(t, 10*time.Second, 0, what, cond) // 0: spins, yielding: the coarse clock ticks fast
}

// TestCacheExpiresByCoarseClock: with the coarse clock an entry lives for
// its TTL as the clock's ticks see it: a read between ticks still hits, the
// first tick past the TTL makes it miss.
func TestCacheExpiresByCoarseClock(t *testing.T) {
	t.Parallel()
	wall := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var ts tickers
	clk := newCoarseClock(time.Millisecond, 1<<30, wall.Now, ts.new)
	c := NewCache(time.Second, nil)
	c.clock = clk
	c.base = clk.now()
	fp := &fakeProbe{busy: map[string]bool{}}
	c.probe = fp.probe

	c.Free("127.0.0.1", 8080)
	wall.Add(time.Second + time.Millisecond) // past the TTL, before a tick
	c.Free("127.0.0.1", 8080)
	if fp.calls != 1 {
		t.Errorf("%d probes before the tick, want 1 (a hit: the clock is one tick behind at most)", fp.calls)
	}
	ts.last().c <- time.Time{}
	waitFor(t, func() bool { return clk.now() == wall.Now().UnixNano() }, "the tick")
	c.Free("127.0.0.1", 8080)
	if fp.calls != 2 {
		t.Errorf("%d probes after the tick, want 2 (expired)", fp.calls)
	}
}
