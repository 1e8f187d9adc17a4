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
//
// That was too late after a flood: under steady traffic the agent kept a
// flood's memory for up to a minute (the soak's end, 40 s after a flood,
// at 2.4 times its baseline). So a release is urgent when the agent holds
// Surge or more beyond its floor: it comes SurgeEvery after the last at
// the soonest and is held back at most SurgeHold. A release waiting out
// Every is checked again every Delay, since a burst under way can make it
// urgent. A release in the middle of a flood frees little (its connections
// are open); once fewer than half the connections open at the last release
// are open (Conns), the burst has closed, and an urgent release does not
// wait SurgeEvery.
//
// The floor is what the last release left, unless that release came amid
// a surge (it left Surge or more above the floor) and the release after
// the surge must still be urgent: then the floor stays, for floorAge at
// most, so that an agent that grew for good (a thousand more forwards) is
// not urgent for ever. Before the first release the floor is unknown and
// no release is urgent.
type releaser struct {
	Delay, Every time.Duration
	// Carried is how many bytes the agent's connections carried so far
	// (engine.Engine.Carried); nil: a release never waits for quiet.
	Carried func() int64
	// Quiet: how long Carried must stand still before a release runs;
	// MaxHold: how long at most a due release is held back.
	Quiet, MaxHold time.Duration
	// Surge: how much more than its floor the agent must hold for a
	// release to be urgent (0: never); SurgeEvery and SurgeHold are Every
	// and MaxHold for an urgent release.
	Surge                 uint64
	SurgeEvery, SurgeHold time.Duration
	Held                  func() uint64 // memory held from the OS; MemStats (heldFromOS) when nil
	Conns                 func() int64  // local connections open now (engine.Engine.Conns); nil: unknown
	Release               func()        // releaseMemory when nil
	Log                   hclog.Logger

	// The clock (nil: time.Now, time.AfterFunc); tests fake it.
	now       func() time.Time
	afterFunc func(time.Duration, func())

	// pending: a release is scheduled. Every closed connection asks for
	// one; while one is pending that costs one atomic load, no lock.
	pending   atomic.Bool
	mu        sync.Mutex // guards the fields below
	last      time.Time  // when the last release began
	floor     uint64     // Held() after the last release not amid a surge
	floorAt   time.Time  // when floor was set; zero: no release yet
	connsLast int64      // Conns() when the last release began
	notBefore time.Time  // Delay after the close that scheduled the pending release
	carried   int64      // Carried() Quiet before the pending release's check
	dueAt     time.Time  // when the pending release first came due
	heldBack  int        // how many times the pending release was held back
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

// heldNow is what the agent holds from the OS: Held's answer, else from
// m, MemStats already read, or read now when m is nil.
func (r *releaser) heldNow(m *goruntime.MemStats) uint64 {
	if r.Held != nil {
		return r.Held()
	}
	if m == nil {
		m = new(goruntime.MemStats)
		goruntime.ReadMemStats(m)
	}
	return heldFromOS(m)
}

// urgent: the agent holds Surge or more beyond its floor.
func (r *releaser) urgent() bool {
	if r.Surge == 0 {
		return false
	}
	held := r.heldNow(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.floorAt.IsZero() && held >= r.floor+r.Surge
}

// burstClosed: fewer than half the connections open when the last release
// began are open now.
func (r *releaser) burstClosed() bool {
	if r.Conns == nil {
		return false
	}
	n := r.Conns()
	r.mu.Lock()
	defer r.mu.Unlock()
	return n*2 < r.connsLast
}

// floorAge: how long a floor stands while releases amid a surge leave
// more.
const floorAge = 5 * time.Minute

// schedule (engine.Options.ConnClosed, and tunnelClosed) schedules a
// release unless one is pending: Delay from now, and no sooner than Every
// (SurgeEvery when urgent) after the last.
func (r *releaser) schedule() {
	if r.pending.Load() || !r.pending.CompareAndSwap(false, true) {
		return
	}
	now := r.clock()
	r.mu.Lock()
	r.notBefore, r.dueAt, r.heldBack = now.Add(r.Delay), time.Time{}, 0
	r.mu.Unlock()
	r.check()
}

// holds: a due release waits for quiet.
func (r *releaser) holds() bool { return r.Carried != nil && r.Quiet > 0 }

// check runs the pending release when it is due, or checks again later:
// when it is due, and at the latest Delay from now while urgency can
// shorten the wait. With Carried, the release is due Quiet after its last
// check (sample), so that it sees whether bytes moved in its last Quiet.
func (r *releaser) check() {
	every := r.Every
	if r.urgent() {
		every = r.SurgeEvery
		if r.burstClosed() {
			every = 0
		}
	}
	now := r.clock()
	r.mu.Lock()
	due := r.notBefore
	if next := r.last.Add(every); next.After(due) {
		due = next
	}
	r.mu.Unlock()
	var lead time.Duration
	if r.holds() {
		lead = r.Quiet
	}
	if wait := due.Sub(now) - lead; wait > 0 {
		if r.Surge > 0 {
			wait = min(wait, r.Delay)
		}
		r.after(wait, r.check)
		return
	}
	if !r.holds() {
		r.fire()
		return
	}
	r.sample()
}

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
	urgent := r.urgent()
	if r.holds() {
		maxHold := r.MaxHold
		if urgent {
			maxHold = r.SurgeHold
		}
		carried := r.Carried()
		now := r.clock()
		r.mu.Lock()
		if r.dueAt.IsZero() {
			r.dueAt = now
		}
		moved := carried != r.carried
		r.carried = carried
		hold := moved && now.Sub(r.dueAt) < maxHold
		if hold {
			r.heldBack++
		}
		r.mu.Unlock()
		if hold {
			r.after(r.Quiet, r.fire)
			return
		}
	}
	var conns int64
	if r.Conns != nil {
		conns = r.Conns()
	}
	r.mu.Lock()
	r.last, r.connsLast = r.clock(), conns
	heldBack := r.heldBack
	r.mu.Unlock()
	release := r.Release
	if release == nil {
		release = releaseMemory
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	release()
	goruntime.ReadMemStats(&after)
	left, now := r.heldNow(&after), r.clock()
	r.mu.Lock()
	if r.floorAt.IsZero() || left < r.floor+r.Surge || now.Sub(r.floorAt) > floorAge {
		r.floor, r.floorAt = left, now
	}
	r.mu.Unlock()
	r.pending.Store(false) // after last and floor: the next schedule waits Every from them
	if r.Log != nil {
		mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
		r.Log.Info("memory released after tunnels or connections closed",
			"heap_in_use_mb", mb(after.HeapInuse), "heap_before_mb", mb(before.HeapInuse),
			"stacks_mb", mb(after.StackInuse), "returned_mb", mb(after.HeapReleased)-mb(before.HeapReleased),
			"held_from_os_mb", mb(heldFromOS(&after)), "goroutines", goruntime.NumGoroutine(),
			"held_back", heldBack, "urgent", urgent)
	}
}

// heldFromOS is the memory the Go runtime holds from the OS, from m: all
// it mapped but what it returned. Reading MemStats stops the world for a
// moment; a check of the pending release does it a few times a second at
// most, and a release reuses the MemStats it reads after itself.
// runtime/metrics would not stop it, but that package's init builds its
// tables in every kpf command's start (~0.6 ms of `kpf version` on a slow
// machine; TestPackageLayers).
func heldFromOS(m *goruntime.MemStats) uint64 {
	return m.Sys - m.HeapReleased
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
