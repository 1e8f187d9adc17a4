package ports

import (
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
	// With Wanted set as well (a running forward off the port it asked for:
	// Keep is a fallback), the request gets Wanted when that is usable in the
	// explicit round; else it keeps Keep, unless a request without Keep
	// asked for Keep by number in that round: that request gets it (the
	// caller stops the running forward before starting the other there) and
	// this one takes the first usable port above Wanted.
	Keep int
}

// yields reports whether q is a Keep request that may give its port to a
// request that asks for it by number.
func (q *Request) yields() bool { return q.Keep > 0 && q.Wanted > 0 && q.Wanted != q.Keep }

// Resolver gives each request of a batch a distinct, bindable port. The zero
// value is ready to use; reusing one across batches allocates nothing but
// the goroutines of a batch that probes ahead (probeAhead). A Resolver is
// not safe for concurrent use.
type Resolver struct {
	sets []portSet
	// yielding are the batch's Keep requests that may give their port away
	// (Request.yields), while the explicit round runs.
	yielding []yielder

	// ahead are the requests whose ports probeAhead probes.
	ahead []int

	// The sets the current request conflicts with, and for which address
	// and number of sets they were found.
	view     []*portWords
	viewAddr string
	viewOwn  *portWords
	viewSets int
}

// yielder is a yielding Keep request of the batch.
type yielder struct {
	idx     int
	address string
	port    int
	lost    bool // a request asked for its port by number and got it
}

// portSet is the ports given out in the current batch on one address.
type portSet struct {
	address  string
	wildcard bool
	bits     *portWords
}

// portWords is a bit per port number.
type portWords [(MaxPort + 1) / 64]uint64

// ResolvePorts resolves reqs with a Resolver from a pool; see
// Resolver.Resolve.
func ResolvePorts(reqs []Request, free Checker) []int {
	r := resolvers.Get().(*Resolver)
	defer resolvers.Put(r)
	return r.Resolve(make([]int, 0, len(reqs)), reqs, free)
}

// resolvers keeps Resolvers (8 KiB per address) across ResolvePorts calls.
var resolvers = sync.Pool{New: func() any { return new(Resolver) }}

// Resolve appends one port per request to dst, in request order, and returns
// it. Keep ports are taken as they are. The others are resolved in three
// rounds, each over the requests in order: first every request that asks for
// a port (Wanted) gets it if usable, so a port a forward asks for by number
// wins over another forward's fallback; then every request still without a
// port keeps its Sticky one if usable; then the rest take the first usable of
// Wanted+1, Wanted+2, ... (or AutoBase, AutoBase+1, ... when Wanted is 0). A
// port is usable when no request of the batch got it before (on the same
// address, or either is a wildcard) and it is either the request's Own port
// or free by the checker. 0 means no port was found. Within a round, the
// order of reqs decides who wins a contested port.
func (r *Resolver) Resolve(dst []int, reqs []Request, free Checker) []int {
	start := len(dst)
	b := batch{free: free}
	if c, ok := free.(*Cache); ok {
		b.cache, b.now = c, c.nanos()
	}
	dst = slices.Grow(dst, len(reqs))[:start+len(reqs)]
	out := dst[start:]
	clear(out)
	r.yielding = r.yielding[:0]
	for i := range reqs {
		q := &reqs[i]
		switch {
		case q.Keep <= 0:
		case q.yields() && q.Keep <= MaxPort:
			r.yielding = append(r.yielding, yielder{idx: i, address: q.Address, port: q.Keep})
		default:
			if q.Keep <= MaxPort {
				r.set(q.Address).mark(q.Keep)
			}
			out[i] = q.Keep
		}
	}
	ahead := 0
	if b.cache != nil {
		ahead = r.probeAhead(reqs, out, &b)
	}
	for round := range rounds {
		for i := range reqs {
			q := &reqs[i]
			if out[i] != 0 || round != roundWanted && q.Keep > 0 && !r.lost(i) {
				continue
			}
			out[i] = r.pick(q, &b, round)
		}
		if round == roundWanted {
			r.settleYields(out, reqs)
		}
	}
	r.yielding = r.yielding[:0]
	// Every bit set in this batch is a port in dst or a Keep port: clear
	// them so the next batch starts empty.
	for i := range r.sets {
		w := r.sets[i].bits
		for j, p := range out {
			if p > 0 && p <= MaxPort {
				w[p>>6] &^= 1 << (p & 63)
			}
			if k := reqs[j].Keep; k > 0 && k <= MaxPort {
				w[k>>6] &^= 1 << (k & 63)
			}
		}
	}
	// The Wanted round's lookups of the ports probed ahead are not hits:
	// each was a probe, counted as a miss.
	b.hits -= min(b.hits, uint64(ahead))
	if b.hits > 0 {
		b.cache.hits.Add(b.hits)
	}
	r.viewOwn = nil // the cache of conflicts holds for one batch
	return dst
}

// probeAheadMin is how many ports a batch must be about to probe for
// Resolve to probe them on several goroutines first: below it, starting
// goroutines costs more than it saves.
const probeAheadMin = 16

// probeAhead probes the ports the Wanted round is about to look up and the
// cache has no fresh answer for, on up to GOMAXPROCS goroutines, so that
// the round finds them answered: a probe is a few system calls, and a plan
// of 100 new forwards would make 100 of them one after the other. The
// answers are the ones the round would have got, a few microseconds
// earlier. It returns how many requests it probed for (0: it did not, with
// fewer than probeAheadMin, one CPU or answers that are not kept).
func (r *Resolver) probeAhead(reqs []Request, out []int, b *batch) int {
	c := b.cache
	workers := runtime.GOMAXPROCS(0)
	if c.ttl <= 0 || workers < 2 || len(reqs) < probeAheadMin {
		return 0
	}
	r.ahead = r.ahead[:0]
	for i := range reqs {
		q := &reqs[i]
		if out[i] != 0 || !inRange(q.Wanted) || q.Wanted == q.Own {
			continue // kept, or nothing to probe in the Wanted round
		}
		if v := c.tableOf(q.Address).lookup(q.Wanted); c.fresh(v, b.now) {
			continue
		}
		r.ahead = append(r.ahead, i)
	}
	todo := r.ahead
	if len(todo) < probeAheadMin {
		return 0
	}
	workers = min(workers, len(todo)/(probeAheadMin/2))
	var next atomic.Int64
	work := func() {
		for {
			k := int(next.Add(1)) - 1
			if k >= len(todo) {
				return
			}
			q := &reqs[todo[k]]
			c.check(b.now, q.Address, q.Wanted)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return len(todo)
}

// The rounds of Resolve.
const (
	roundWanted = iota // the port asked for, exactly
	roundSticky        // the port chosen at an earlier apply
	roundSearch        // the first usable one above
	rounds
)

// batch is how one Resolve call checks ports: a *Cache is read at one
// instant for the whole batch, with its hits counted here and added to the
// cache's once.
type batch struct {
	free  Checker
	cache *Cache
	tab   *table // the cache's table of the current request's address
	now   int64
	hits  uint64
}

// pick returns the port for q in round, 0 if none, and marks it taken.
func (r *Resolver) pick(q *Request, b *batch, round int) int {
	switch {
	case round == roundWanted && q.Wanted == 0,
		round == roundSticky && (q.Sticky == 0 || q.Sticky == q.Wanted):
		return 0 // nothing to try in this round
	}
	// A request on the address of the one before (the common case) keeps
	// its view of the batch's sets and its cache table.
	own := r.viewOwn
	if own == nil || len(r.sets) != r.viewSets || !sameString(q.Address, r.viewAddr) {
		own = r.conflicts(q.Address)
		if b.cache != nil {
			b.tab = b.cache.tableOf(q.Address)
		}
	}
	var p int
	switch round {
	case roundWanted:
		if r.usable(q, q.Wanted, b) || q.Keep == 0 && inRange(q.Wanted) && !r.taken(q.Wanted) && r.claim(q.Address, q.Wanted) {
			p = q.Wanted
		}
	case roundSticky:
		if r.usable(q, q.Sticky, b) {
			p = q.Sticky
		}
	default:
		p = r.search(q, b)
	}
	if p > 0 {
		own.mark(p)
	}
	return p
}

// search returns the first usable port above Wanted (from AutoBase when
// Wanted is 0), 0 if none.
func (r *Resolver) search(q *Request, b *batch) int {
	p := AutoBase
	if q.Wanted > 0 {
		p = q.Wanted + 1
	}
	for ; p <= MaxPort; p++ {
		if p = r.nextUntaken(p); p == 0 {
			return 0
		}
		if r.free(q, p, b) {
			return p
		}
	}
	return 0
}

// claim gives port on address to the caller if a yielding request of the
// batch that has not kept it yet holds it there (it then has to move).
func (r *Resolver) claim(address string, port int) bool {
	for i := range r.yielding {
		y := &r.yielding[i]
		if !y.lost && y.port == port && (y.address == address || IsWildcard(y.address) || IsWildcard(address)) {
			y.lost = true
			return true
		}
	}
	return false
}

// lost reports whether request i yielded its port.
func (r *Resolver) lost(i int) bool {
	for _, y := range r.yielding {
		if y.idx == i {
			return y.lost
		}
	}
	return false
}

// settleYields ends the explicit round: each yielding request that did not
// get its wanted port keeps its own, unless a request asked for that one.
func (r *Resolver) settleYields(out []int, reqs []Request) {
	for i := range r.yielding {
		y := &r.yielding[i]
		if y.lost || out[y.idx] != 0 {
			continue
		}
		own := r.conflicts(y.address)
		if r.taken(y.port) { // given out through a checker that says it is free
			y.lost = true
			continue
		}
		own.mark(y.port)
		out[y.idx] = reqs[y.idx].Keep
	}
	r.viewOwn = nil // conflicts moved the view
}

func inRange(p int) bool { return p >= 1 && p <= MaxPort }

// usable reports whether q may have port p: in range, not taken in the
// batch, and its own or free.
func (r *Resolver) usable(q *Request, p int, b *batch) bool {
	return p >= 1 && p <= MaxPort && !r.taken(p) && r.free(q, p, b)
}

// free reports whether q may have port p (1..MaxPort, not taken in the
// batch): its own, or free by the checker.
func (r *Resolver) free(q *Request, p int, b *batch) bool {
	if p == q.Own {
		return true
	}
	if b.tab == nil {
		return b.free.Free(q.Address, p)
	}
	if v := b.tab.lookup(p); b.cache.fresh(v, b.now) {
		b.hits++
		return v&1 == 1
	}
	free, _ := b.cache.checkIn(b.tab, b.now, q.Address, p)
	return free
}

// conflicts sets r.view to the sets a request on address conflicts with
// (its own address's, and every wildcard's; every set for a wildcard) and
// returns the request's own set.
func (r *Resolver) conflicts(address string) *portWords {
	own := r.set(address)
	wild := IsWildcard(address)
	r.view = r.view[:0]
	for i := range r.sets {
		s := &r.sets[i]
		if wild || s.wildcard || s.bits == own {
			r.view = append(r.view, s.bits)
		}
	}
	r.viewAddr, r.viewOwn, r.viewSets = address, own, len(r.sets)
	return own
}

// taken reports whether an earlier request of the batch holds port, by
// r.view.
func (r *Resolver) taken(port int) bool {
	w, b := port>>6, uint64(1)<<(port&63)
	for _, s := range r.view {
		if s[w]&b != 0 {
			return true
		}
	}
	return false
}

// nextUntaken returns the first port >= p no earlier request of the batch
// holds (by r.view), or 0 when there is none; it skips taken ports 64 at a
// time.
func (r *Resolver) nextUntaken(p int) int {
	for w := p >> 6; w < len(portWords{}); w++ {
		var used uint64
		for _, s := range r.view {
			used |= s[w]
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

func (w *portWords) mark(port int) {
	w[port>>6] |= 1 << (port & 63)
}

// set returns the bits of address, adding them on first use.
func (r *Resolver) set(address string) *portWords {
	for i := range r.sets {
		if r.sets[i].address == address {
			return r.sets[i].bits
		}
	}
	r.sets = append(r.sets, portSet{
		address:  address,
		wildcard: IsWildcard(address),
		bits:     new(portWords),
	})
	return r.sets[len(r.sets)-1].bits
}
