package ports

import (
	"sync"
	"sync/atomic"
	"time"
)

// The coarse clock: what a cache hit reads instead of time.Now, which costs
// 35-80 ns on the build machine's VM (more than the rest of a hit).
const (
	// coarseTick is how often the coarse clock is refreshed while in use.
	coarseTick = time.Millisecond
	// coarseLease is how many ticks one start of the ticker lasts. The
	// first read after that starts it again; a clock nobody reads stops
	// within coarseLease ticks and then costs nothing.
	coarseLease = 64
	// minCoarseTTL is the shortest TTL a cache reads the coarse clock for;
	// below it the staleness would matter, so such caches read time.Now.
	minCoarseTTL = 100 * coarseTick
)

// wallClock is the coarse clock every Cache made with a nil clock shares.
var wallClock = newCoarseClock(coarseTick, coarseLease, time.Now, newRealTicker)

// coarseClock is a wall clock that costs one atomic load to read. While it
// is in use a goroutine stores time.Now every tick. Nobody has to start or
// stop it: the first read starts the goroutine, which stops itself after
// lease ticks; a read after that starts it again (the read that does pays
// for one time.Now and one goroutine start). So a process that stops
// probing has no goroutine and no timer left for it after lease ticks.
//
// Staleness bound: a read returns the wall clock as of the last tick, at
// most one tick old while the Go scheduler runs the ticker goroutine on
// time; a tick it runs late is late by as much (a process starved of CPU).
// For a 5 s probe-cache TTL, 1 ms is 0.02%. Wall clock, not monotonic: a
// laptop waking from sleep must see its cached probes as old.
type coarseClock struct {
	ns atomic.Int64 // UnixNano at the last tick; 0 while stopped

	tick      time.Duration
	lease     int
	wall      func() time.Time
	newTicker func(time.Duration) ticker

	mu      sync.Mutex
	running bool
	starts  int           // how often the goroutine was started
	done    chan struct{} // closed when the last started goroutine has exited
}

// ticker is the part of *time.Ticker the clock uses (a fake in tests).
type ticker interface {
	C() <-chan time.Time
	Stop()
}

type realTicker struct{ *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.Ticker.C }

func newRealTicker(d time.Duration) ticker { return realTicker{time.NewTicker(d)} }

func newCoarseClock(tick time.Duration, lease int, wall func() time.Time, newTicker func(time.Duration) ticker) *coarseClock {
	return &coarseClock{tick: tick, lease: lease, wall: wall, newTicker: newTicker}
}

// now returns the wall clock in Unix nanoseconds, at most about one tick old.
func (c *coarseClock) now() int64 {
	if ns := c.ns.Load(); ns != 0 {
		return ns
	}
	return c.start()
}

// start reads the wall clock and, unless it runs, starts the ticker goroutine.
func (c *coarseClock) start() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := unixNano(c.wall())
	c.ns.Store(ns)
	if !c.running {
		c.running = true
		c.starts++
		c.done = make(chan struct{})
		go c.run(c.newTicker(c.tick), c.done)
	}
	return ns
}

func (c *coarseClock) run(t ticker, done chan struct{}) {
	defer close(done)
	defer t.Stop()
	for n := 1; ; n++ {
		<-t.C()
		c.mu.Lock()
		if n >= c.lease {
			c.running = false
			c.ns.Store(0)
			c.mu.Unlock()
			return
		}
		c.ns.Store(unixNano(c.wall()))
		c.mu.Unlock()
	}
}

// state reports whether the goroutine runs, how often it was started and a
// channel closed when the last one has exited (for tests).
func (c *coarseClock) state() (running bool, starts int, done <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running, c.starts, c.done
}

// unixNano is t.UnixNano, never 0 (0 means "stopped").
func unixNano(t time.Time) int64 {
	if ns := t.UnixNano(); ns != 0 {
		return ns
	}
	return 1
}
