package native

import (
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// releaser hands the memory of closed tunnels back to the OS. Go's
// scavenger returns freed heap only gradually, and an idle agent runs no
// GC that would lower its heap goal, so after a burst of traffic the agent
// kept its peak RSS long after every tunnel had closed (1,000 forwards: 41
// MB idle, 79 MB 45 s after their tunnels closed). A release — two forced
// GCs and a scavenge (releaseMemory), a few milliseconds of CPU — runs
// Delay after a tunnel closed, coalescing the closes of a burst (idle
// timers that started together), and at most once per Every. Closed
// connections count too: a flood, or a spell of traffic, leaves its
// garbage while its tunnels stay open, and CI's short soak ended with the
// agent at twice its baseline RSS.
//
// A release never lands while bytes move, if it can help it: a forced GC
// stops every connection's copies for its pauses and takes a core for its
// marking (~6 ms on a 2-core machine), and it had landed inside a round
// trip measurement, its p99 the run's worst. When it is due and Carried
// changed in the Quiet before, it is held back by Quiet and checked again;
// it runs once Carried stood still for Quiet, or once it was held back for
// MaxHold (traffic that never pauses: the ordinary GCs that traffic brings
// lower the heap goal meanwhile). So after a burst the release comes Quiet
// to twice Quiet after its last byte, and under steady traffic at most
// once per Every + MaxHold.
type releaser struct {
	Delay, Every time.Duration
	// Carried is how many bytes the agent's connections carried so far
	// (engine.Engine.Carried); nil: a release never waits for quiet.
	Carried func() int64
	// Quiet: how long Carried must stand still before a release runs;
	// MaxHold: how long at most a due release is held back.
	Quiet, MaxHold time.Duration
	Release        func() // releaseMemory when nil
	Log            hclog.Logger

	// The clock (nil: time.Now, time.AfterFunc); tests fake it.
	now       func() time.Time
	afterFunc func(time.Duration, func())

	// pending: a release is scheduled. Every closed connection asks for
	// one; while one is pending that costs one atomic load, no lock.
	pending atomic.Bool
	mu      sync.Mutex // guards last, carried, dueAt and held
	last    time.Time  // when the last release began
	carried int64      // Carried() Quiet before the pending release's check
	dueAt   time.Time  // when the pending release first came due
	held    int        // how many times the pending release was held back
}

// tunnelClosed is engine.Options.TunnelClosed.
func (r *releaser) tunnelClosed(int) { r.schedule() }

func (r *releaser) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *releaser) after(d time.Duration, f func()) {
	if r.afterFunc != nil {
		r.afterFunc(d, f)
		return
	}
	time.AfterFunc(d, f)
}

// schedule (engine.Options.ConnClosed, and tunnelClosed) schedules a
// release unless one is pending: Delay from now, and no sooner than Every
// after the last. With Carried, it is read Quiet before the release is due
// (sample), so that the release sees whether bytes moved in its last Quiet.
func (r *releaser) schedule() {
	if r.pending.Load() || !r.pending.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	last := r.last
	r.dueAt, r.held = time.Time{}, 0
	r.mu.Unlock()
	wait := r.Delay
	if next := last.Add(r.Every).Sub(r.clock()); next > wait {
		wait = next
	}
	if !r.holds() {
		r.after(wait, r.fire)
		return
	}
	r.after(max(wait-r.Quiet, 0), r.sample)
}

// holds: a due release waits for quiet.
func (r *releaser) holds() bool { return r.Carried != nil && r.Quiet > 0 }

// sample reads Carried and fires Quiet later.
func (r *releaser) sample() {
	carried := r.Carried()
	r.mu.Lock()
	r.carried = carried
	r.mu.Unlock()
	r.after(r.Quiet, r.fire)
}

// fire runs a due release, or holds it back by Quiet while bytes move.
func (r *releaser) fire() {
	if r.holds() {
		carried := r.Carried()
		now := r.clock()
		r.mu.Lock()
		if r.dueAt.IsZero() {
			r.dueAt = now
		}
		moved := carried != r.carried
		r.carried = carried
		hold := moved && now.Sub(r.dueAt) < r.MaxHold
		if hold {
			r.held++
		}
		r.mu.Unlock()
		if hold {
			r.after(r.Quiet, r.fire)
			return
		}
	}
	r.mu.Lock()
	r.last = r.clock()
	held := r.held
	r.mu.Unlock()
	r.pending.Store(false) // after last: the next schedule waits Every from it
	release := r.Release
	if release == nil {
		release = releaseMemory
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	release()
	goruntime.ReadMemStats(&after)
	if r.Log != nil {
		mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
		r.Log.Info("memory released after tunnels or connections closed",
			"heap_in_use_mb", mb(after.HeapInuse), "heap_before_mb", mb(before.HeapInuse),
			"stacks_mb", mb(after.StackInuse), "returned_mb", mb(after.HeapReleased)-mb(before.HeapReleased),
			"held_from_os_mb", mb(after.Sys-after.HeapReleased), "goroutines", goruntime.NumGoroutine(),
			"held_back", held)
	}
}

// releaseMemory collects twice, then returns what is free to the OS. The
// engine pools its buffers (32 KiB per connection), and a collection only
// moves a sync.Pool's buffers aside: they are freed by the next one. With
// debug.FreeOSMemory alone, the buffers a flood of connections left were
// still live after a release (95 MB of a 30 MB agent), the heap goal was
// set from them, and the agent grew to twice that before the next
// collection (the soak ended at 128 MB against a 52 MB baseline).
func releaseMemory() {
	goruntime.GC()
	debug.FreeOSMemory()
}
