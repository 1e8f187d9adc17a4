package live

import (
	"math"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestTrafficRates(t *testing.T) {
	tests := []struct {
		name    string
		samples []struct {
			at    time.Duration // after t0
			total int64
		}
		now        time.Duration
		wantRecent float64 // average of the last 5 full seconds
		wantSum    float64 // bytes in the window
	}{
		{
			name: "steady 1000 B/s in 2 s steps",
			samples: []struct {
				at    time.Duration
				total int64
			}{{0, 0}, {2 * time.Second, 2000}, {4 * time.Second, 4000}, {6 * time.Second, 6000}, {8 * time.Second, 8000}},
			now: 8 * time.Second, wantRecent: 1000, wantSum: 8000,
		},
		{
			name: "a counter that restarts counts from zero",
			samples: []struct {
				at    time.Duration
				total int64
			}{{0, 50_000}, {5 * time.Second, 55_000}, {10 * time.Second, 5_000}},
			now: 10 * time.Second, wantRecent: 1000, wantSum: 10_000,
		},
		{
			name: "a gap longer than the window keeps its last minute",
			samples: []struct {
				at    time.Duration
				total int64
			}{{0, 0}, {120 * time.Second, 120_000}},
			now: 120 * time.Second, wantRecent: 1000, wantSum: 60_000,
		},
		{
			name: "an older or equal snapshot changes nothing",
			samples: []struct {
				at    time.Duration
				total int64
			}{{0, 0}, {5 * time.Second, 5000}, {5 * time.Second, 9000}, {4 * time.Second, 9000}},
			now: 5 * time.Second, wantRecent: 1000, wantSum: 5000,
		},
		{
			name: "the first sample is only a base",
			samples: []struct {
				at    time.Duration
				total int64
			}{{0, 1 << 40}},
			now: 0, wantRecent: 0, wantSum: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTraffic()
			for _, s := range tt.samples {
				tr.add(s.total, t0.Add(s.at))
			}
			var r [window]float64
			tr.rates(t0.Add(tt.now), &r)
			var sum float64
			for _, v := range r {
				sum += v
			}
			if got := recent(&r, 5); math.Abs(got-tt.wantRecent) > 1e-6 {
				t.Errorf("recent rate %v, want %v", got, tt.wantRecent)
			}
			if math.Abs(sum-tt.wantSum) > 1e-6 {
				t.Errorf("bytes in the window %v, want %v", sum, tt.wantSum)
			}
		})
	}
}

// TestTrafficUnknownResets: a row that stops reporting bytes starts over.
func TestTrafficUnknownResets(t *testing.T) {
	tr := newTraffic()
	tr.add(0, t0)
	tr.add(Unknown, t0.Add(time.Second))
	tr.add(10_000, t0.Add(2*time.Second)) // a base again, not 10 kB in a second
	var r [window]float64
	tr.rates(t0.Add(3*time.Second), &r)
	for _, v := range r {
		if v != 0 {
			t.Fatalf("rates after an unknown sample: %v", r)
		}
	}
}

func TestSparkline(t *testing.T) {
	var r [window]float64
	if got := sparkline(&r, 8); got != "▁▁▁▁▁▁▁▁" {
		t.Errorf("idle: %q", got)
	}
	for i := range r {
		r[i] = float64(i)
	}
	if got := sparkline(&r, 8); got != "▁▂▃▄▅▆▇█" {
		t.Errorf("rising: %q", got)
	}
	r = [window]float64{}
	r[window-1] = 5000
	if got := sparkline(&r, 4); got != "▁▁▁█" {
		t.Errorf("a burst at the end: %q", got)
	}
	if got := sparkline(&r, 0); got != "" {
		t.Errorf("no width: %q", got)
	}
	if got := sparkline(&r, 90); len([]rune(got)) != 90 {
		t.Errorf("wider than the window: %d cells", len([]rune(got)))
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatRate(0), "0B/s"},
		{formatRate(850), "850B/s"},
		{formatRate(999.6), "1.0K/s"},
		{formatRate(1234), "1.2K/s"},
		{formatRate(34_000), "34K/s"},
		{formatRate(5_600_000), "5.6M/s"},
		{formatBytes(2e12), "2.0T"},
		{formatUptime(0), "-"},
		{formatUptime(45 * time.Second), "45s"},
		{formatUptime(9*time.Minute + 3*time.Second), "9m03s"},
		{formatUptime(12*time.Minute + 3*time.Second), "12m"},
		{formatUptime(3*time.Hour + 12*time.Minute), "3h12m"},
		{formatUptime(50 * time.Hour), "2d02h"},
		{formatCount(Unknown), "-"},
		{formatCount(12), "12"},
		{oneLine("a\tb\nc\x1b[31md\x1b[0m"), "a b cd"},
		{oneLine("plain"), "plain"},
		{ago(500 * time.Millisecond), "just now"},
		{ago(12 * time.Second), "12s ago"},
		{ago(3 * time.Minute), "3m ago"},
		{ago(5 * time.Hour), "5h ago"},
		{ago(72 * time.Hour), "3d ago"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestLayout: columns drop in priority order and never overflow.
func TestLayout(t *testing.T) {
	natural := [numCols]int{1, 9, 15, 20, 19, 10, 9, 4, 15, 3, 6, 40}
	for total := 10; total <= 250; total++ {
		w := layout(total, &natural)
		used := 0
		for c := range numCols {
			if w[c] > 0 {
				used += w[c] + colGap
			}
		}
		if used > total {
			t.Fatalf("width %d: columns take %d: %v", total, used, w)
		}
		if w[colName] == 0 {
			t.Fatalf("width %d: no name column", total)
		}
		for c := range numCols {
			// A column shows only if every more important one does.
			for d := range numCols {
				if w[c] > 0 && w[d] == 0 && columns[d].priority < columns[c].priority {
					t.Fatalf("width %d: %s shown without %s: %v", total, columns[c].title, columns[d].title, w)
				}
			}
		}
		if tr := w[colTraffic]; tr != 0 && tr != sparkWidth && tr != sparkWidth+1+rateWidth {
			t.Fatalf("width %d: traffic %d wide", total, tr)
		}
	}
}

func TestCellWidth(t *testing.T) {
	for _, s := range []string{"", "api", "▁▂▃▄▅▆▇█ 12K/s", "é", "日本", "a\x1b[31mb\x1b[m", "›"} {
		if got, want := cellWidth(s), ansi.StringWidth(s); got != want {
			t.Errorf("cellWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s string
		w int
	}{{"service/grafana", 13}, {"api", 3}, {"api", 2}, {"api", 1}, {"api", 0}, {"dépôt/éléphant", 6}, {"日本語のサービス", 5}} {
		if got, want := truncate(tt.s, tt.w), ansi.Truncate(tt.s, tt.w, "…"); got != want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.w, got, want)
		}
	}
}
