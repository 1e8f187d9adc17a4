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
// MB idle, 79 MB 45 s after their tunnels closed). A release — a forced GC
// and scavenge, a few milliseconds of CPU — runs Delay after a tunnel
// closed, coalescing the closes of a burst (idle timers that started
// together), and at most once per Every. Closed connections count too: a
// flood, or a spell of traffic, leaves its garbage while its tunnels stay
// open, and CI's short soak ended with the agent at twice its baseline
// RSS. Under steady traffic that is one forced GC per Every, a few
// milliseconds of CPU each half minute.
type releaser struct {
	Delay, Every time.Duration
	Release      func() // debug.FreeOSMemory when nil
	Log          hclog.Logger

	// pending: a release is scheduled. Every closed connection asks for
	// one; while one is pending that costs one atomic load, no lock.
	pending atomic.Bool
	mu      sync.Mutex // guards last
	last    time.Time  // when the last release began
}

// tunnelClosed is engine.Options.TunnelClosed.
func (r *releaser) tunnelClosed(int) { r.schedule() }

// schedule (engine.Options.ConnClosed, and tunnelClosed) schedules a
// release unless one is pending: Delay from now, and no sooner than Every
// after the last.
func (r *releaser) schedule() {
	if r.pending.Load() || !r.pending.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	wait := r.Delay
	if next := time.Until(last.Add(r.Every)); next > wait {
		wait = next
	}
	time.AfterFunc(wait, r.fire)
}

func (r *releaser) fire() {
	r.mu.Lock()
	r.last = time.Now()
	r.mu.Unlock()
	r.pending.Store(false) // after last: the next schedule waits Every from it
	release := r.Release
	if release == nil {
		release = debug.FreeOSMemory
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
			"held_from_os_mb", mb(after.Sys-after.HeapReleased), "goroutines", goruntime.NumGoroutine())
	}
}
