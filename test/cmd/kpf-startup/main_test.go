package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 90, 7 * time.Millisecond},
		{"odd median", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"even median: mean of the middle two", ms(1, 2, 3, 10), 50, 2500 * time.Microsecond},
		{"p10 of 10", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10, 1 * time.Millisecond},
		{"p90 of 10", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %d) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

// TestTrace: medians per package over runs, a package missing from a run
// counting 0, largest first.
func TestTrace(t *testing.T) {
	runs := []string{
		"init runtime @0.32 ms, 0.88 ms clock, 0 bytes, 0 allocs\ninit k8s.io/api/core/v1 @12 ms, 0.41 ms clock, 5120 bytes, 12 allocs\nkpf 1.0\n",
		"init runtime @0.30 ms, 0.50 ms clock, 0 bytes, 0 allocs\ninit k8s.io/api/core/v1 @11 ms, 0.45 ms clock, 5120 bytes, 12 allocs\ninit late/pkg @20 ms, 2 ms clock, 1 bytes, 1 allocs\n",
		"init runtime @0.31 ms, 0.60 ms clock, 0 bytes, 0 allocs\ninit k8s.io/api/core/v1 @11 ms, 0.40 ms clock, 5120 bytes, 12 allocs\n",
	}
	tr := &trace{clock: map[string][]time.Duration{}}
	for _, r := range runs {
		if err := tr.add(strings.NewReader(r)); err != nil {
			t.Fatal(err)
		}
	}
	got, sum := tr.medians()
	want := []pkgClock{{"runtime", 600 * time.Microsecond}, {"k8s.io/api/core/v1", 410 * time.Microsecond}, {"late/pkg", 0}}
	if len(got) != len(want) {
		t.Fatalf("medians %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("medians[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if sum != 1010*time.Microsecond {
		t.Errorf("sum %v, want 1.01ms", sum)
	}
	if err := tr.add(strings.NewReader("kpf 1.0\n")); err == nil {
		t.Error("a run without inittrace lines: no error")
	}
}
