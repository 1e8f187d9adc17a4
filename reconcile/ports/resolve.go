package ports

import (
	"math/bits"
	"time"
)

// AutoBase is where the search for a port starts when a forward asks for
// none (local_port = 0) and has no earlier choice to keep.
const AutoBase = 42000

// Checker answers whether a port can be bound; *Cache implements it.
type Checker interface {
	Free(address string, port int) bool
}

// Request is one forward's wish for a local port.
type Request struct {
	Address string
	// Wanted is the port the spec asks for; 0 means any.
	Wanted int
	// Sticky is the port chosen at an earlier apply (0: none). It is kept
	// while it is usable.
	Sticky int
	// Own is the port this forward's own live process holds now: usable even
	// though the checker says it is taken (0: none).
	Own int
	// Keep reserves this exact port without checking (a running forward that
	// is left alone). Keep requests are reserved before any other is resolved.
	Keep int
}

// Resolver gives each request of a batch a distinct, bindable port. The zero
// value is ready to use; reusing one across batches allocates nothing. A
// Resolver is not safe for concurrent use.
type Resolver struct {
	sets []portSet
}

type portSet struct {
	address  string
	wildcard bool
	bits     *portWords
}

// portWords is a bit per port number.
type portWords [(MaxPort + 1) / 64]uint64

// ResolvePorts resolves reqs with a fresh Resolver; see Resolver.Resolve.
func ResolvePorts(reqs []Request, free Checker) []int {
	var r Resolver
	return r.Resolve(make([]int, 0, len(reqs)), reqs, free)
}

// Resolve appends one port per request to dst, in request order, and returns
// it. Keep ports are taken as they are. Otherwise the port is the first
// usable of: Sticky, Wanted, then Wanted+1, Wanted+2, ... (or AutoBase,
// AutoBase+1, ... when Wanted is 0). A port is usable when no earlier request
// of the batch got it (on the same address, or either is a wildcard) and it is
// either the request's Own port or free by the checker. 0 means no port was
// found. The order of reqs decides who wins a contested port.
func (r *Resolver) Resolve(dst []int, reqs []Request, free Checker) []int {
	start := len(dst)
	cache, _ := free.(*Cache)
	var now time.Time
	if cache != nil {
		now = cache.now()
	}
	for _, q := range reqs {
		if q.Keep > 0 {
			r.mark(q.Address, q.Keep)
		}
	}
	for _, q := range reqs {
		if q.Keep > 0 {
			dst = append(dst, q.Keep)
			continue
		}
		p := r.pick(q, free, cache, now)
		if p > 0 {
			r.mark(q.Address, p)
		}
		dst = append(dst, p)
	}
	for i, q := range reqs {
		r.unmark(q.Address, dst[start+i])
	}
	return dst
}

// pick returns the port for q, 0 if none. A *Cache is read at one instant
// for the whole batch (one clock read instead of one per port).
func (r *Resolver) pick(q Request, free Checker, cache *Cache, now time.Time) int {
	wild := IsWildcard(q.Address)
	usable := func(p int) bool {
		if p < 1 || p > MaxPort || r.taken(q.Address, wild, p) {
			return false
		}
		if p == q.Own {
			return true
		}
		if cache != nil {
			return cache.FreeAt(now, q.Address, p)
		}
		return free.Free(q.Address, p)
	}
	if q.Sticky > 0 && usable(q.Sticky) {
		return q.Sticky
	}
	p := AutoBase
	if q.Wanted > 0 {
		if usable(q.Wanted) {
			return q.Wanted
		}
		p = q.Wanted + 1
	}
	for ; p <= MaxPort; p++ {
		if p = r.nextUntaken(q.Address, wild, p); p == 0 {
			return 0
		}
		if usable(p) {
			return p
		}
	}
	return 0
}

// nextUntaken returns the first port >= p no earlier request of the batch
// holds, or 0 when there is none; it skips taken ports 64 at a time.
func (r *Resolver) nextUntaken(address string, wild bool, p int) int {
	for w := p >> 6; w < len(portWords{}); w++ {
		var used uint64
		for i := range r.sets {
			s := &r.sets[i]
			if wild || s.wildcard || s.address == address {
				used |= s.bits[w]
			}
		}
		if w == p>>6 {
			used |= 1<<(p&63) - 1 // ports below p count as taken
		}
		if used != ^uint64(0) {
			return w<<6 | bits.TrailingZeros64(^used)
		}
	}
	return 0
}

func (r *Resolver) taken(address string, wild bool, port int) bool {
	w, b := port>>6, uint64(1)<<(port&63)
	for i := range r.sets {
		s := &r.sets[i]
		if s.bits[w]&b != 0 && (wild || s.wildcard || s.address == address) {
			return true
		}
	}
	return false
}

func (r *Resolver) mark(address string, port int) {
	if port < 1 || port > MaxPort {
		return
	}
	s := r.set(address)
	s.bits[port>>6] |= 1 << (port & 63)
}

func (r *Resolver) unmark(address string, port int) {
	if port < 1 || port > MaxPort {
		return
	}
	for i := range r.sets {
		if r.sets[i].address == address {
			r.sets[i].bits[port>>6] &^= 1 << (port & 63)
			return
		}
	}
}

func (r *Resolver) set(address string) *portSet {
	for i := range r.sets {
		if r.sets[i].address == address {
			return &r.sets[i]
		}
	}
	r.sets = append(r.sets, portSet{
		address:  address,
		wildcard: IsWildcard(address),
		bits:     new(portWords),
	})
	return &r.sets[len(r.sets)-1]
}
