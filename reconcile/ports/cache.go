package ports

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Stats counts cache lookups.
type Stats struct {
	// Hits counts the lookups of Resolve batches answered from the cache.
	// A lone Free does not count its hits: an atomic add per hit would
	// double the cost of one (Resolve adds once per batch).
	Hits uint64
	// Misses counts every lookup that probed.
	Misses uint64
}

// Cache remembers Probe results per (address, port) for a TTL. It implements
// reconcile.PortChecker and is safe for concurrent use. A hit takes no lock,
// writes nothing and allocates nothing.
type Cache struct {
	ttl   int64            // nanoseconds
	clock *coarseClock     // nil: now
	now   func() time.Time // the injected clock, when clock is nil
	base  int64            // UnixNano of the clock when the cache was made
	probe func(address string, port int) bool

	mu     sync.Mutex               // serialises adding address tables
	tables atomic.Pointer[[]*table] // copy-on-write
	last   atomic.Pointer[table]    // the table used last: the common case

	hits   atomic.Uint64
	misses atomic.Uint64
}

// table holds the entries of one address, in pages of 256 ports allocated on
// first use.
type table struct {
	address string
	pages   [256]atomic.Pointer[page]
}

// page holds 256 entries. An entry is 0 when empty, else
// expiry<<2 | 2 | free, with expiry in wall-clock nanoseconds since
// Cache.base.
type page [256]atomic.Int64

// NewCache returns a cache whose entries live for ttl (0: every lookup
// probes). now is the clock; nil means the wall clock, read through the
// shared coarse clock (one atomic load, at most about a millisecond behind;
// see coarseClock) when ttl is at least 100 ms, else through time.Now.
func NewCache(ttl time.Duration, now func() time.Time) *Cache {
	c := &Cache{ttl: int64(ttl), now: now, probe: Probe}
	switch {
	case now != nil:
	case ttl >= minCoarseTTL:
		c.clock = wallClock
	default:
		c.now = time.Now
	}
	c.base = c.nanos()
	return c
}

// nanos reads the cache's clock.
func (c *Cache) nanos() int64 {
	if c.clock != nil {
		return c.clock.now()
	}
	return c.now().UnixNano()
}

// Free reports whether port can be bound on address, probing only when the
// cached answer is missing or older than the TTL.
func (c *Cache) Free(address string, port int) bool {
	var now int64
	if c.clock != nil {
		now = c.clock.now()
	} else {
		now = c.now().UnixNano()
	}
	// The hit path, written out: a few loads and no call.
	if t := c.last.Load(); t != nil && sameString(t.address, address) && port >= 1 && port <= MaxPort {
		if v := t.lookup(port); c.fresh(v, now) {
			return v&1 == 1
		}
	}
	free, _ := c.check(now, address, port)
	return free
}

// FreeAt is Free with the clock already read.
func (c *Cache) FreeAt(now time.Time, address string, port int) bool {
	free, _ := c.check(now.UnixNano(), address, port)
	return free
}

// check answers from the entry when it is fresh at now (Unix nanoseconds),
// else probes and stores the answer; hit says which.
func (c *Cache) check(now int64, address string, port int) (free, hit bool) {
	if port < 1 || port > MaxPort {
		return false, false
	}
	return c.checkIn(c.tableOf(address), now, address, port)
}

// checkIn is check with the address's table already found.
func (c *Cache) checkIn(t *table, now int64, address string, port int) (free, hit bool) {
	if v := t.lookup(port); c.fresh(v, now) {
		return v&1 == 1, true
	}
	return c.miss(t.entry(port), now-c.base, address, port), false
}

// fresh reports whether entry v holds an answer that is fresh at now. An
// entry stored "in the future" (the wall clock stepped back) is not.
func (c *Cache) fresh(v, now int64) bool {
	rel := now - c.base
	return v&2 != 0 && rel < v>>2 && rel >= v>>2-c.ttl
}

func (c *Cache) miss(e *atomic.Int64, rel int64, address string, port int) bool {
	c.misses.Add(1)
	free := c.probe(address, port)
	if c.ttl > 0 {
		v := (rel+c.ttl)<<2 | 2
		if free {
			v |= 1
		}
		e.Store(v)
	}
	return free
}

// Invalidate forgets the cached answer for (address, port), e.g. after kpf
// started or stopped a forward there.
func (c *Cache) Invalidate(address string, port int) {
	if port < 1 || port > MaxPort {
		return
	}
	c.tableOf(address).entry(port).Store(0)
}

// Stats returns the hit and miss counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// tableOf returns the table of address, the last one used without a search.
func (c *Cache) tableOf(address string) *table {
	t := c.last.Load()
	if t == nil || !sameString(t.address, address) {
		t = c.table(address)
		c.last.Store(t)
	}
	return t
}

// sameString is a == b, without a call when both are the same string (the
// address a caller passes each time).
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// lookup returns the entry of port (1..MaxPort), 0 if there is none.
func (t *table) lookup(port int) int64 {
	if pg := t.pages[port>>8].Load(); pg != nil {
		return pg[port&0xff].Load()
	}
	return 0
}

// entry returns the entry of port (1..MaxPort), adding its page if needed.
func (t *table) entry(port int) *atomic.Int64 {
	if pg := t.pages[port>>8].Load(); pg != nil {
		return &pg[port&0xff]
	}
	fresh := new(page)
	if !t.pages[port>>8].CompareAndSwap(nil, fresh) {
		fresh = t.pages[port>>8].Load()
	}
	return &fresh[port&0xff]
}

func (c *Cache) table(address string) *table {
	if ts := c.tables.Load(); ts != nil {
		for _, t := range *ts {
			if t.address == address {
				return t
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old []*table
	if ts := c.tables.Load(); ts != nil {
		old = *ts
		for _, t := range old {
			if t.address == address {
				return t
			}
		}
	}
	t := &table{address: address}
	next := make([]*table, len(old), len(old)+1)
	copy(next, old)
	next = append(next, t)
	c.tables.Store(&next)
	return t
}
