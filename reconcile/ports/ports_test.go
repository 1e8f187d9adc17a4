package ports

import (
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listen holds a port on host for the duration of the test.
func listen(t *testing.T, host string, port int) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func hasIPv6(t *testing.T) bool {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func TestProbe(t *testing.T) {
	t.Parallel()
	held := listen(t, "127.0.0.1", 0)
	if Probe("127.0.0.1", held) {
		t.Errorf("Probe(127.0.0.1, %d) = true while the port is held", held)
	}
	if Probe("0.0.0.0", held) {
		t.Errorf("Probe(0.0.0.0, %d) = true while 127.0.0.1 holds it", held)
	}
	for _, p := range []int{0, -1, MaxPort + 1} {
		if Probe("127.0.0.1", p) {
			t.Errorf("Probe(127.0.0.1, %d) = true, want false", p)
		}
	}
	free, err := FreePort("127.0.0.1")
	if err != nil {
		t.Fatalf("FreePort: %v", err)
	}
	if !Probe("127.0.0.1", free) {
		t.Errorf("Probe(127.0.0.1, %d) = false for a port FreePort returned", free)
	}
}

func TestProbeChecksIPv6Loopback(t *testing.T) {
	t.Parallel()
	if !hasIPv6(t) {
		t.Skip("no IPv6 loopback on this host")
	}
	held := listen(t, "::1", 0)
	if Probe("127.0.0.1", held) {
		t.Errorf("Probe(127.0.0.1, %d) = true while ::1 holds the port", held)
	}
	if Probe("::1", held) {
		t.Errorf("Probe(::1, %d) = true while held", held)
	}
}

func TestProbeOtherAddressIndependent(t *testing.T) {
	t.Parallel()
	held := listen(t, "127.0.0.2", 0)
	// 127.0.0.1 is a different address: holding the port on 127.0.0.2 does
	// not make it busy there (on hosts that route 127/8 to lo).
	if !Probe("127.0.0.1", held) && Probe("127.0.0.3", held) {
		t.Errorf("port %d busy on 127.0.0.1 but free on 127.0.0.3", held)
	}
	if Probe("127.0.0.2", held) {
		t.Errorf("Probe(127.0.0.2, %d) = true while held", held)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeProbe says busy for the ports in busy and counts calls.
type fakeProbe struct {
	mu    sync.Mutex
	busy  map[string]bool
	calls int
}

func (f *fakeProbe) probe(address string, port int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return !f.busy[address+":"+strconv.Itoa(port)]
}

func (f *fakeProbe) set(key string, busy bool) {
	f.mu.Lock()
	f.busy[key] = busy
	f.mu.Unlock()
}

func newTestCache(ttl time.Duration) (*Cache, *fakeClock, *fakeProbe) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	fp := &fakeProbe{busy: map[string]bool{}}
	c := NewCache(ttl, clk.Now)
	c.probe = fp.probe
	return c, clk, fp
}

func TestCache(t *testing.T) {
	t.Parallel()
	type step struct {
		advance    time.Duration
		busy       map[string]bool // changes to the world before the lookup
		invalidate bool
		address    string
		port       int
		want       bool
		wantCalls  int // probe calls so far
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{"miss then hit", 5 * time.Second, []step{
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
		}},
		{"stale answer within ttl", 5 * time.Second, []step{
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{advance: 4 * time.Second, busy: map[string]bool{"127.0.0.1:8080": true}, address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{advance: time.Second, address: "127.0.0.1", port: 8080, want: false, wantCalls: 2},
		}},
		{"invalidate forces a probe", 5 * time.Second, []step{
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{busy: map[string]bool{"127.0.0.1:8080": true}, invalidate: true, address: "127.0.0.1", port: 8080, want: false, wantCalls: 2},
		}},
		{"busy is cached too", 5 * time.Second, []step{
			{busy: map[string]bool{"127.0.0.1:5432": true}, address: "127.0.0.1", port: 5432, want: false, wantCalls: 1},
			{busy: map[string]bool{"127.0.0.1:5432": false}, address: "127.0.0.1", port: 5432, want: false, wantCalls: 1},
		}},
		{"addresses are separate", 5 * time.Second, []step{
			{busy: map[string]bool{"127.0.0.1:9000": true}, address: "127.0.0.1", port: 9000, want: false, wantCalls: 1},
			{address: "0.0.0.0", port: 9000, want: true, wantCalls: 2},
			{address: "127.0.0.1", port: 9001, want: true, wantCalls: 3},
		}},
		{"wall clock stepped back expires", 5 * time.Second, []step{
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{advance: -time.Hour, address: "127.0.0.1", port: 8080, want: true, wantCalls: 2},
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 2},
		}},
		{"ttl zero never caches", 0, []step{
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 1},
			{address: "127.0.0.1", port: 8080, want: true, wantCalls: 2},
		}},
		{"out of range never probes", 5 * time.Second, []step{
			{address: "127.0.0.1", port: 0, want: false, wantCalls: 0},
			{address: "127.0.0.1", port: 70000, want: false, wantCalls: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clk, fp := newTestCache(tt.ttl)
			for i, s := range tt.steps {
				clk.Add(s.advance)
				for k, v := range s.busy {
					fp.set(k, v)
				}
				if s.invalidate {
					c.Invalidate(s.address, s.port)
				}
				if got := c.Free(s.address, s.port); got != s.want {
					t.Errorf("step %d: Free(%s, %d) = %v, want %v", i, s.address, s.port, got, s.want)
				}
				if fp.calls != s.wantCalls {
					t.Errorf("step %d: %d probes, want %d", i, fp.calls, s.wantCalls)
				}
			}
		})
	}
}

func TestCacheStats(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestCache(time.Minute)
	c.Free("127.0.0.1", 1) // miss
	c.Free("127.0.0.1", 1) // hit, not counted
	c.Free("127.0.0.1", 2) // miss
	if got, want := c.Stats(), (Stats{Hits: 0, Misses: 2}); got != want {
		t.Errorf("after Free: Stats() = %+v, want %+v", got, want)
	}
	// A batch: 8080 and 8081 miss, then 8080 hits (the second request
	// skips it as taken without a lookup), 1 and 2 hit.
	reqs := []Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.1", Wanted: 8080},
		{Address: "127.0.0.1", Wanted: 1}, {Address: "127.0.0.1", Wanted: 2}}
	ResolvePorts(reqs, c)
	if got, want := c.Stats(), (Stats{Hits: 2, Misses: 4}); got != want {
		t.Errorf("after a batch: Stats() = %+v, want %+v", got, want)
	}
	ResolvePorts(reqs, c)
	if got, want := c.Stats(), (Stats{Hits: 6, Misses: 4}); got != want {
		t.Errorf("after a second batch: Stats() = %+v, want %+v", got, want)
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c, _, fp := newTestCache(time.Minute)
	fp.set("10.0.0.1:7", true)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			addr := []string{"127.0.0.1", "10.0.0.1", "::1", "0.0.0.0"}[g%4]
			for p := 1; p < 2000; p++ {
				want := !(addr == "10.0.0.1" && p == 7)
				if got := c.Free(addr, p); got != want {
					t.Errorf("Free(%s, %d) = %v, want %v", addr, p, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	// Two goroutines per address: each (address, port) is probed once, or
	// twice when both miss at the same moment.
	if m := c.Stats().Misses; m < 4*1999 || m > 8*1999 {
		t.Errorf("misses = %d, want %d to %d", m, 4*1999, 8*1999)
	}
}

func TestCacheRealProbe(t *testing.T) {
	t.Parallel()
	held := listen(t, "127.0.0.1", 0)
	c := NewCache(time.Minute, nil)
	if c.Free("127.0.0.1", held) {
		t.Errorf("Free(127.0.0.1, %d) = true while held", held)
	}
}

// busySet is a Checker with a fixed set of busy "address:port" keys.
type busySet map[string]bool

func (b busySet) Free(address string, port int) bool {
	return !b[address+":"+strconv.Itoa(port)]
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		busy busySet
		reqs []Request
		want []int
	}{
		{"wanted free", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080}}, []int{8080}},
		{"wanted busy moves up", busySet{"127.0.0.1:8080": true, "127.0.0.1:8081": true},
			[]Request{{Address: "127.0.0.1", Wanted: 8080}}, []int{8082}},
		{"two forwards want one port", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.1", Wanted: 8080}}, []int{8080, 8081}},
		{"different addresses share a port", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.2", Wanted: 8080}}, []int{8080, 8080}},
		{"wildcard conflicts with a specific address", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "0.0.0.0", Wanted: 8080}, {Address: "127.0.0.2", Wanted: 8081}}, []int{8080, 8082, 8081}},
		{"a port asked for wins over another's fallback", busySet{"127.0.0.1:38080": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080}, {Address: "127.0.0.1", Wanted: 38081}}, []int{38082, 38081}},
		{"a port asked for wins over another's sticky fallback", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Sticky: 38081}, {Address: "127.0.0.1", Wanted: 38081}}, []int{38080, 38081}},
		{"a port asked for wins over an auto port chosen earlier", nil,
			[]Request{{Address: "127.0.0.1", Sticky: 42000}, {Address: "127.0.0.1", Wanted: 42000}}, []int{42001, 42000}},
		{"a running forward off its port moves back once it is free, and yields the one it had", busySet{"127.0.0.1:38081": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Keep: 38081}, {Address: "127.0.0.1", Wanted: 38081}}, []int{38080, 38081}},
		{"a port asked for wins over a running forward's fallback", busySet{"127.0.0.1:38080": true, "127.0.0.1:38081": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Keep: 38081}, {Address: "127.0.0.1", Wanted: 38081}}, []int{38082, 38081}},
		{"a running forward's fallback is not given to a fallback", busySet{"127.0.0.1:38080": true, "127.0.0.1:38081": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Keep: 38081}, {Address: "127.0.0.1", Wanted: 38080}}, []int{38081, 38082}},
		{"a running forward off its port does not take another's fallback", busySet{"127.0.0.1:38080": true, "127.0.0.1:38081": true, "127.0.0.1:38082": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Keep: 38081}, {Address: "127.0.0.1", Wanted: 38081, Keep: 38082}}, []int{38081, 38082}},
		{"a running forward off its port stays while it is busy", busySet{"127.0.0.1:38080": true},
			[]Request{{Address: "127.0.0.1", Wanted: 38080, Keep: 38081}}, []int{38081}},
		{"a running forward's wanted port goes to the forward that runs on it", nil,
			[]Request{{Address: "127.0.0.1", Keep: 38080}, {Address: "127.0.0.1", Wanted: 38080, Keep: 38081}}, []int{38080, 38081}},
		{"auto starts at AutoBase", busySet{"127.0.0.1:42000": true},
			[]Request{{Address: "127.0.0.1"}, {Address: "127.0.0.1"}}, []int{42001, 42002}},
		{"wanted port back once free, before the sticky one", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080, Sticky: 8081}}, []int{8080}},
		{"sticky kept while wanted is busy", busySet{"127.0.0.1:8080": true},
			[]Request{{Address: "127.0.0.1", Wanted: 8080, Sticky: 8081}}, []int{8081}},
		{"sticky busy falls back to wanted", busySet{"127.0.0.1:8081": true},
			[]Request{{Address: "127.0.0.1", Wanted: 8080, Sticky: 8081}}, []int{8080}},
		{"auto sticky", nil,
			[]Request{{Address: "127.0.0.1", Sticky: 42017}}, []int{42017}},
		{"own port usable although busy", busySet{"127.0.0.1:8080": true},
			[]Request{{Address: "127.0.0.1", Wanted: 8080, Own: 8080}}, []int{8080}},
		{"keep reserved before others regardless of order", nil,
			[]Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.1", Keep: 8080}}, []int{8081, 8080}},
		{"own port already given to a keep", busySet{"127.0.0.1:8080": true},
			[]Request{{Address: "127.0.0.1", Keep: 8080}, {Address: "127.0.0.1", Wanted: 8080, Own: 8080}}, []int{8080, 8081}},
		{"nothing free at the top", busySet{"127.0.0.1:65535": true},
			[]Request{{Address: "127.0.0.1", Wanted: 65535}}, []int{0}},
		{"top taken in the batch does not wrap", busySet{"127.0.0.1:65534": true},
			[]Request{{Address: "127.0.0.1", Keep: 65535}, {Address: "127.0.0.1", Wanted: 65534}}, []int{65535, 0}},
		{"scan skips a run of taken ports", busySet{"127.0.0.1:100": true, "127.0.0.1:230": true},
			append(keeps(101, 229), Request{Address: "127.0.0.1", Wanted: 100}), append(seq(101, 229), 231)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Resolver
			for round := range 2 { // the second round proves the batch left no marks
				got := r.Resolve(nil, tt.reqs, tt.busy)
				if !equal(got, tt.want) {
					t.Errorf("round %d: Resolve = %v, want %v", round, got, tt.want)
				}
			}
			if got := ResolvePorts(tt.reqs, tt.busy); !equal(got, tt.want) {
				t.Errorf("ResolvePorts = %v, want %v", got, tt.want)
			}
		})
	}
}

func keeps(from, to int) []Request {
	var rs []Request
	for p := from; p <= to; p++ {
		rs = append(rs, Request{Address: "127.0.0.1", Keep: p})
	}
	return rs
}

func seq(from, to int) []int {
	var ps []int
	for p := from; p <= to; p++ {
		ps = append(ps, p)
	}
	return ps
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResolveDistinct50on10(t *testing.T) {
	t.Parallel()
	reqs := requests50on10()
	got := ResolvePorts(reqs, busySet{})
	seen := map[int]bool{}
	for i, p := range got {
		if p < 60000 || seen[p] {
			t.Fatalf("request %d got port %d (duplicate or out of range): %v", i, p, got)
		}
		seen[p] = true
	}
}

func requests50on10() []Request {
	reqs := make([]Request, 50)
	for i := range reqs {
		reqs[i] = Request{Address: "127.0.0.1", Wanted: 60000 + i%10}
	}
	return reqs
}

func TestResolveWithCache(t *testing.T) {
	t.Parallel()
	c, _, fp := newTestCache(time.Minute)
	fp.set("127.0.0.1:8080", true)
	reqs := []Request{{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.1", Wanted: 8080}}
	if got := ResolvePorts(reqs, c); !equal(got, []int{8081, 8082}) {
		t.Errorf("ResolvePorts = %v, want [8081 8082]", got)
	}
	if got := ResolvePorts(reqs, c); !equal(got, []int{8081, 8082}) || fp.calls != 3 {
		t.Errorf("second batch = %v with %d probes, want [8081 8082] with 3 (cache hits)", got, fp.calls)
	}
}

// TestResolveAlternatingAddressesWithCache: the cache table a request uses is
// its own address's also when addresses alternate within a batch.
func TestResolveAlternatingAddressesWithCache(t *testing.T) {
	t.Parallel()
	c, _, fp := newTestCache(time.Minute)
	fp.set("127.0.0.2:8080", true)
	reqs := []Request{
		{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.2", Wanted: 8080},
		{Address: "127.0.0.1", Wanted: 8080}, {Address: "127.0.0.2", Wanted: 8080},
		{Address: "0.0.0.0", Wanted: 8080},
	}
	want := []int{8080, 8081, 8081, 8082, 8083}
	var r Resolver
	for round := range 2 {
		if got := r.Resolve(nil, reqs, c); !equal(got, want) {
			t.Errorf("round %d: Resolve = %v, want %v", round, got, want)
		}
	}
}

// slowProbe is a probe that takes a while and records how many run at
// once.
type slowProbe struct {
	fakeProbe
	running, most atomic.Int32
}

func (s *slowProbe) probe(address string, port int) bool {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(200 * time.Microsecond)
	return s.fakeProbe.probe(address, port)
}

// TestResolveProbesAhead: a batch about to probe many ports probes them on
// several goroutines first, and resolves exactly as one probing them in
// turn: the same ports, each probed once, no lookup counted as a hit.
// Run it with -race.
func TestResolveProbesAhead(t *testing.T) {
	t.Parallel()
	var reqs []Request
	busy := busySet{}
	for i := range 64 {
		q := Request{Address: "127.0.0.1", Wanted: 8000 + i}
		switch i % 8 {
		case 1:
			q.Address = "::1"
		case 2:
			q.Own = q.Wanted // its own: not probed
		case 3:
			q.Keep = 9000 + i // kept: not probed
		case 4:
			busy[q.Address+":"+strconv.Itoa(q.Wanted)] = true // moves to the next free port
		}
		reqs = append(reqs, q)
	}
	// In turn: the cache behind a Checker that is not a *Cache.
	inTurn, _, fp := newTestCache(time.Minute)
	fp.busy = busy
	want := ResolvePorts(reqs, lonePorts{inTurn})

	sp := &slowProbe{fakeProbe: fakeProbe{busy: busy}}
	c, _, _ := newTestCache(time.Minute)
	c.probe = sp.probe
	if got := ResolvePorts(reqs, c); !slices.Equal(got, want) {
		t.Errorf("ports with probes ahead:\n%v\nwant\n%v", got, want)
	}
	if got, want := c.Stats(), (Stats{Misses: uint64(fp.calls)}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if sp.calls != fp.calls {
		t.Errorf("%d probes, want %d as in turn: each port once", sp.calls, fp.calls)
	}
	if runtime.GOMAXPROCS(0) > 1 && sp.most.Load() < 2 {
		t.Errorf("at most %d probes at once, want several", sp.most.Load())
	}
}

// lonePorts is a Cache seen only as a Checker: Resolve looks its ports up
// one Free at a time.
type lonePorts struct{ c *Cache }

func (l lonePorts) Free(address string, port int) bool { return l.c.Free(address, port) }
