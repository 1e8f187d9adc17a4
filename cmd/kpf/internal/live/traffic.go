package live

import (
	"strings"
	"time"
)

// window is how much traffic history a row keeps, in one-second buckets.
const window = 60

// traffic is one forward's byte rate over the last minute, from the
// cumulative counters of successive snapshots: the bytes between two
// snapshots are spread evenly over the seconds between them.
type traffic struct {
	last   int64 // cumulative bytes at lastAt; Unknown before the first sample
	lastAt time.Time
	bytes  [window]float64 // bytes moved in the second held in sec[i]
	sec    [window]int64   // the unix second bucket i holds
	gen    int             // the last snapshot that had the forward
}

func newTraffic() *traffic { return &traffic{last: Unknown} }

// add records the cumulative byte count total observed at at.
func (t *traffic) add(total int64, at time.Time) {
	if total < 0 {
		t.last = Unknown
		return
	}
	if t.last < 0 || !at.After(t.lastAt) {
		if t.last < 0 {
			t.last, t.lastAt = total, at
		}
		return
	}
	delta := total - t.last
	if delta < 0 { // the counter restarted with the forward
		delta = total
	}
	from, dt := t.lastAt, at.Sub(t.lastAt)
	t.last, t.lastAt = total, at
	if delta == 0 {
		return
	}
	// Only the last minute is kept: drop the share of older seconds.
	if horizon := at.Add(-window * time.Second); from.Before(horizon) {
		from = horizon
	}
	perNs := float64(delta) / float64(dt)
	for from.Before(at) {
		next := from.Truncate(time.Second).Add(time.Second)
		if next.After(at) {
			next = at
		}
		t.put(from.Unix(), perNs*float64(next.Sub(from)))
		from = next
	}
}

func (t *traffic) put(sec int64, b float64) {
	i := int(sec % window)
	if i < 0 {
		i += window
	}
	if t.sec[i] != sec {
		t.sec[i], t.bytes[i] = sec, 0
	}
	t.bytes[i] += b
}

// rates returns bytes/s for each of the window full seconds before now,
// oldest first.
func (t *traffic) rates(now time.Time, out *[window]float64) {
	end := now.Unix() // the current second is still filling
	for k := range window {
		s := end - window + int64(k)
		i := int(s % window)
		if i < 0 {
			i += window
		}
		out[k] = 0
		if t.sec[i] == s {
			out[k] = t.bytes[i]
		}
	}
}

// recent is the average rate over the last n full seconds.
func recent(r *[window]float64, n int) float64 {
	var sum float64
	for _, v := range r[window-n:] {
		sum += v
	}
	return sum / float64(n)
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws r in width cells, each the average of its share of the
// window, scaled to the busiest cell; an idle minute is a flat line.
func sparkline(r *[window]float64, width int) string {
	if width <= 0 {
		return ""
	}
	var buf [window]float64
	cells := buf[:0]
	if width > window {
		cells = make([]float64, 0, width)
	}
	cells = cells[:width]
	var peak float64
	for c := range width {
		lo, hi := c*window/width, (c+1)*window/width
		if hi == lo {
			hi = lo + 1
		}
		var sum float64
		for _, v := range r[lo:hi] {
			sum += v
		}
		cells[c] = sum / float64(hi-lo)
		peak = max(peak, cells[c])
	}
	var b strings.Builder
	b.Grow(width * 3)
	for _, v := range cells {
		level := 0
		if peak > 0 && v > 0 {
			level = min(len(sparks)-1, int(v/peak*float64(len(sparks)-1)+0.5))
		}
		b.WriteRune(sparks[level])
	}
	return b.String()
}
