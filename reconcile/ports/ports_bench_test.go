package ports

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The benchmarks named X/kpf and X/reference are pairs: the same work done
// by kpf and by the reproduction of the reference's algorithm
// (reference_test.go), measured in one run. test/cmd/benchratio prints their
// ratios (`make bench`).

// BenchmarkProbeCached is a cache hit for 127.0.0.1, including the clock
// read that decides whether the entry is still fresh.
func BenchmarkProbeCached(b *testing.B) {
	const port = 60000
	b.Run("kpf", func(b *testing.B) {
		c := NewCache(time.Hour, nil)
		c.probe = func(string, int) bool { return true }
		c.Free("127.0.0.1", port)
		b.ReportAllocs()
		for b.Loop() {
			if !c.Free("127.0.0.1", port) {
				b.Fatal("not free")
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		c := newRefChecker(time.Hour)
		c.cache.Store(port, refEntry{available: true, timestamp: time.Now()})
		b.ReportAllocs()
		for b.Loop() {
			if !c.available(port) {
				b.Fatal("not free")
			}
		}
	})
}

// BenchmarkProbeCachedFixedClock is a cache hit with a clock that costs
// nothing, i.e. the cache itself.
func BenchmarkProbeCachedFixedClock(b *testing.B) {
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

// BenchmarkProbeUncached is a real probe of a free port on 127.0.0.1 (and
// ::1, as kubectl binds both loopbacks).
func BenchmarkProbeUncached(b *testing.B) {
	b.Run("kpf", func(b *testing.B) {
		port := quietPort(b)
		b.ReportAllocs()
		for b.Loop() {
			if !Probe("127.0.0.1", port) {
				port = busyAgain(b, port)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		port := quietPort(b)
		b.ReportAllocs()
		for b.Loop() {
			if !refProbe(port) {
				port = busyAgain(b, port)
			}
		}
	})
}

// quietPort returns a port free on 127.0.0.1 and ::1, above Linux's
// ephemeral range (32768-60999) where no outgoing connection of another
// program takes it in the middle of a benchmark.
func quietPort(b *testing.B) int {
	b.Helper()
	for p := 61000 + rand.IntN(4000); p <= MaxPort; p++ {
		if listenProbe("127.0.0.1", p) {
			return p
		}
	}
	p, err := FreePort("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// busyAgain is for a port something else took during a benchmark: it
// reports it and returns another, with the timer stopped.
func busyAgain(b *testing.B, port int) int {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	b.Logf("port %d was taken during the benchmark; moving on", port)
	return quietPort(b)
}

// BenchmarkResolve50on10: 50 forwards asking for ports 60000+i%10, every port
// free, each gets a distinct port; warm cache (kpf: reused Resolver and
// result slice; reference: its result map per resolution).
func BenchmarkResolve50on10(b *testing.B) {
	b.Run("kpf", func(b *testing.B) {
		c := NewCache(time.Hour, nil)
		c.probe = func(string, int) bool { return true }
		reqs := requests50on10()
		var r Resolver
		dst := r.Resolve(nil, reqs, c) // warm
		b.ReportAllocs()
		for b.Loop() {
			dst = r.Resolve(dst[:0], reqs, c)
		}
	})
	b.Run("reference", func(b *testing.B) {
		c := newRefChecker(time.Hour)
		svcs := refServices50on10()
		for p := 60000; p < 60100; p++ { // warm
			c.cache.Store(p, refEntry{available: true, timestamp: time.Now()})
		}
		b.ReportAllocs()
		for b.Loop() {
			refResolve(svcs, c)
		}
	})
}

// BenchmarkResolve50on10Cold is the same starting from an empty cache each
// time: 50 real probes on 127.0.0.1 and ::1 (ports 60000-60049 must be free).
func BenchmarkResolve50on10Cold(b *testing.B) {
	b.Run("kpf", func(b *testing.B) {
		reqs := requests50on10()
		var r Resolver
		var dst []int
		b.ReportAllocs()
		for b.Loop() {
			dst = r.Resolve(dst[:0], reqs, NewCache(5*time.Second, nil))
		}
		checkDistinct(b, dst)
	})
	b.Run("reference", func(b *testing.B) {
		svcs := refServices50on10()
		var got map[string]int
		b.ReportAllocs()
		for b.Loop() {
			got = refResolve(svcs, newRefChecker(5*time.Second))
		}
		if len(got) != len(svcs) {
			b.Fatalf("%d services resolved, want %d", len(got), len(svcs))
		}
	})
}

func checkDistinct(b *testing.B, ports []int) {
	b.Helper()
	seen := map[int]bool{}
	for _, p := range ports {
		if p == 0 || seen[p] {
			b.Fatalf("ports not distinct: %v", ports)
		}
		seen[p] = true
	}
}
