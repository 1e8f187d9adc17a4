package native

import (
	goruntime "runtime"
	"runtime/debug"
	"sync"
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
// together), and at most once per Every. Connections count too: once
// connections have closed and none closed for Delay (a flood, or a spell
// of traffic, is over, while its tunnels stay open), a release follows;
// a soak's agent otherwise ended at twice its baseline RSS.
type releaser struct {
	Delay, Every time.Duration
	Release      func() // debug.FreeOSMemory when nil
	Log          hclog.Logger

	mu      sync.Mutex
	pending bool
	last    time.Time
	closed  bool        // a connection closed since the last release
	quiet   *time.Timer // fires Delay after the last connection closed
}

// tunnelClosed is engine.Options.TunnelClosed.
func (r *releaser) tunnelClosed(int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scheduleLocked()
}

// connClosed is engine.Options.ConnClosed: it (re)starts the quiet timer.
func (r *releaser) connClosed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.quiet == nil {
		r.quiet = time.AfterFunc(r.Delay, r.calm)
		return
	}
	r.quiet.Reset(r.Delay)
}

// calm runs once no connection closed for Delay.
func (r *releaser) calm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.scheduleLocked()
	}
}

// scheduleLocked schedules a release unless one is pending: Delay from
// now, and no sooner than Every after the last. r.mu is held.
func (r *releaser) scheduleLocked() {
	if r.pending {
		return
	}
	r.pending = true
	wait := r.Delay
	if next := time.Until(r.last.Add(r.Every)); next > wait {
		wait = next
	}
	time.AfterFunc(wait, r.fire)
}

func (r *releaser) fire() {
	r.mu.Lock()
	r.pending, r.last, r.closed = false, time.Now(), false
	release := r.Release
	r.mu.Unlock()
	if release == nil {
		release = debug.FreeOSMemory
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	release()
	goruntime.ReadMemStats(&after)
	if r.Log != nil {
		mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
		r.Log.Info("memory released after tunnels closed",
			"heap_in_use_mb", mb(after.HeapInuse), "heap_before_mb", mb(before.HeapInuse),
			"stacks_mb", mb(after.StackInuse), "returned_mb", mb(after.HeapReleased)-mb(before.HeapReleased),
			"held_from_os_mb", mb(after.Sys-after.HeapReleased), "goroutines", goruntime.NumGoroutine())
	}
}
