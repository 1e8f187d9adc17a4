package ports

import (
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestReferenceAgrees checks that the reproductions of the reference's
// algorithms (reference_test.go) compute what kpf's compute on the
// benchmarks' inputs, so that the benchmarks compare the same work.
func TestReferenceAgrees(t *testing.T) {
	t.Parallel()
	t.Run("resolver", func(t *testing.T) {
		t.Parallel()
		for _, busy := range [][]int{nil, {60003}, {60000, 60010, 60011}} {
			ref := newRefChecker(time.Hour)
			set := busySet{}
			for p := 60000; p < 60100; p++ {
				ref.cache.Store(p, refEntry{available: true, timestamp: time.Now()})
			}
			for _, p := range busy {
				ref.cache.Store(p, refEntry{available: false, timestamp: time.Now()})
				set["127.0.0.1:"+strconv.Itoa(p)] = true
			}
			svcs := refServices50on10()
			want := refResolve(svcs, ref)
			got := ResolvePorts(requests50on10(), set)
			if len(busy) > 0 {
				// With a wanted port busy, kpf gives every port asked for by
				// number to the forward that asks for it before any fallback
				// (the reference gives them first come, first served): the
				// same ports, shared out differently.
				wantPorts := slices.Sorted(maps.Values(want))
				if gotPorts := slices.Sorted(slices.Values(got)); !slices.Equal(gotPorts, wantPorts) {
					t.Errorf("busy %v: ports %v, the reference gives %v", busy, gotPorts, wantPorts)
				}
				continue
			}
			for i, s := range svcs {
				if got[i] != want[s.name] {
					t.Errorf("busy %v: request %d got %d, the reference gives %d", busy, i, got[i], want[s.name])
				}
			}
		}
	})
	t.Run("probe", func(t *testing.T) {
		t.Parallel()
		held := listen(t, "127.0.0.1", 0)
		if refProbe(held) || Probe("127.0.0.1", held) {
			t.Errorf("port %d held on 127.0.0.1: refProbe %v, Probe %v, want both false", held, refProbe(held), Probe("127.0.0.1", held))
		}
		free, err := FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if !refProbe(free) || !Probe("127.0.0.1", free) {
			t.Errorf("port %d free: refProbe %v, Probe %v, want both true", free, refProbe(free), Probe("127.0.0.1", free))
		}
	})
	t.Run("cache", func(t *testing.T) {
		t.Parallel()
		held := listen(t, "127.0.0.1", 0)
		ref := newRefChecker(time.Hour)
		if ref.available(held) {
			t.Errorf("refChecker: port %d available while held", held)
		}
		ref.cache.Store(held, refEntry{available: true, timestamp: time.Now()})
		if !ref.available(held) {
			t.Error("refChecker: a fresh entry is not a hit")
		}
		ref.cache.Store(held, refEntry{available: true, timestamp: time.Now().Add(-2 * time.Hour)})
		if ref.available(held) {
			t.Error("refChecker: an expired entry is still a hit")
		}
	})
}
