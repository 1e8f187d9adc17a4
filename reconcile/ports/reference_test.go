package ports

// Benchmark-only reproductions of the algorithms of kportforward, the
// reference kpf is compared with (issue 10). They are written from the
// description of its port checker and resolver, not copied, and live in a
// _test.go file so that they never ship in the kpf binary. Each reference
// benchmark runs in the same `go test -bench` invocation as its kpf
// counterpart, so the ratios `make bench` prints come from one machine and
// one run.

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// refEntry is the reference's cached answer for one port.
type refEntry struct {
	available bool
	timestamp time.Time
}

// refChecker is the reference's cached port checker: a sync.Map from port
// to refEntry, a hit being an entry younger than the TTL by time.Since.
type refChecker struct {
	ttl   time.Duration
	cache sync.Map // int -> refEntry
}

func newRefChecker(ttl time.Duration) *refChecker { return &refChecker{ttl: ttl} }

// available is the reference's cached check of 127.0.0.1:port.
func (c *refChecker) available(port int) bool {
	if v, ok := c.cache.Load(port); ok {
		e := v.(refEntry)
		if time.Since(e.timestamp) < c.ttl {
			return e.available
		}
	}
	free := refProbe(port)
	c.cache.Store(port, refEntry{available: free, timestamp: time.Now()})
	return free
}

// refProbe is the reference's uncached check: listen on 127.0.0.1 and then
// on ::1, closing each listener.
func refProbe(port int) bool {
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	l6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port))
	if err != nil {
		return false
	}
	_ = l6.Close()
	return true
}

// refService is the part of a reference service definition the resolver
// reads.
type refService struct {
	name      string
	localPort int
}

// refUsed is the reference's pool of "ports taken in this resolution" maps.
var refUsed = sync.Pool{New: func() any { return make(map[int]bool, 50) }}

// refResolve is the reference's conflict resolver: services in order, each
// scanning upward from its wanted port past ports an earlier service took
// and ports the cached checker says are busy.
func refResolve(services []refService, c *refChecker) map[string]int {
	result := make(map[string]int, len(services))
	used := refUsed.Get().(map[int]bool)
	clear(used)
	for _, s := range services {
		p := s.localPort
		for used[p] || !c.available(p) {
			p++
		}
		used[p] = true
		result[s.name] = p
	}
	refUsed.Put(used)
	return result
}

// refServices50on10 is requests50on10 in the reference's terms.
func refServices50on10() []refService {
	reqs := requests50on10()
	svcs := make([]refService, len(reqs))
	for i, q := range reqs {
		svcs[i] = refService{name: fmt.Sprintf("svc-%02d", i), localPort: q.Wanted}
	}
	return svcs
}
