package ports

import (
	"testing"
	"time"
)

// BenchmarkProbeCached measures a cache hit with a clock that costs nothing,
// i.e. the cache itself.
func BenchmarkProbeCached(b *testing.B) {
	fixed := time.Unix(1_700_000_000, 0)
	c := NewCache(time.Hour, func() time.Time { return fixed })
	c.probe = func(string, int) bool { return true }
	c.Free("127.0.0.1", 60000)
	b.ReportAllocs()
	for b.Loop() {
		if !c.Free("127.0.0.1", 60000) {
			b.Fatal("not free")
		}
	}
}

// BenchmarkProbeCachedRealClock is a cache hit including time.Now.
func BenchmarkProbeCachedRealClock(b *testing.B) {
	c := NewCache(time.Hour, nil)
	c.probe = func(string, int) bool { return true }
	c.Free("127.0.0.1", 60000)
	b.ReportAllocs()
	for b.Loop() {
		c.Free("127.0.0.1", 60000)
	}
}

// BenchmarkProbeUncached binds 127.0.0.1 and ::1 for real.
func BenchmarkProbeUncached(b *testing.B) {
	port, err := FreePort("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Probe("127.0.0.1", port)
	}
}

// BenchmarkResolve50on10: 50 forwards asking for ports 60000+i%10, every port
// free, each gets a distinct port; warm cache, reused Resolver and result.
func BenchmarkResolve50on10(b *testing.B) {
	c := NewCache(time.Hour, nil)
	c.probe = func(string, int) bool { return true }
	reqs := requests50on10()
	var r Resolver
	dst := r.Resolve(nil, reqs, c) // warm
	b.ReportAllocs()
	for b.Loop() {
		dst = r.Resolve(dst[:0], reqs, c)
	}
}

// BenchmarkResolve50on10Cold is the same with real binds on every lookup
// (a cache with TTL 0).
func BenchmarkResolve50on10Cold(b *testing.B) {
	c := NewCache(0, nil)
	reqs := requests50on10()
	var r Resolver
	var dst []int
	b.ReportAllocs()
	for b.Loop() {
		dst = r.Resolve(dst[:0], reqs, c)
	}
}
