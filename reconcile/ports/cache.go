package ports

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts cache lookups.
type Stats struct {
	Hits   uint64
	Misses uint64
}

// Cache remembers Probe results per (address, port) for a TTL. It implements
// reconcile.PortChecker and is safe for concurrent use. A hit takes no lock
// and allocates nothing.
type Cache struct {
	ttl   time.Duration
	now   func() time.Time
	base  int64 // UnixNano of the clock when the cache was made
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
// probes). now is the clock; nil means time.Now.
func NewCache(ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{ttl: ttl, now: now, base: now().UnixNano(), probe: Probe}
}

// Free reports whether port can be bound on address, probing only when the
// cached answer is missing or older than the TTL.
func (c *Cache) Free(address string, port int) bool {
	return c.FreeAt(c.now(), address, port)
}

// FreeAt is Free with the clock already read: a caller checking many ports
// at one instant (Resolver) reads the clock once.
func (c *Cache) FreeAt(now time.Time, address string, port int) bool {
	if port < 1 || port > MaxPort {
		return false
	}
	e := c.entry(address, port)
	// Wall-clock nanoseconds: cheaper than Time.Sub. An entry stored "in
	// the future" (the wall clock stepped back) counts as expired.
	rel := now.UnixNano() - c.base
	if v := e.Load(); v&2 != 0 && rel < v>>2 && rel >= v>>2-int64(c.ttl) {
		c.hits.Add(1)
		return v&1 == 1
	}
	c.misses.Add(1)
	free := c.probe(address, port)
	if c.ttl > 0 {
		v := (rel+int64(c.ttl))<<2 | 2
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
	c.entry(address, port).Store(0)
}

// Stats returns the hit and miss counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

func (c *Cache) entry(address string, port int) *atomic.Int64 {
	t := c.last.Load()
	if t == nil || t.address != address {
		t = c.table(address)
		c.last.Store(t)
	}
	if pg := t.pages[port>>8].Load(); pg != nil {
		return &pg[port&0xff]
	}
	return c.newPage(t, port)
}

func (c *Cache) newPage(t *table, port int) *atomic.Int64 {
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
