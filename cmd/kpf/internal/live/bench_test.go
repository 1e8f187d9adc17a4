package live

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// reportCPU adds cpu-ms/op, the process's CPU time per op (GC included),
// to a benchmark: the figure that does not grow with the machine's load.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if cpu := processCPU() - start; cpu > 0 {
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		}
	}
}

// manyRows is n forwards in the shape of workspace's rows, half of them
// reporting traffic.
func manyRows(n int, step int64) Snapshot {
	base := workspace(t0, step).Rows
	rows := make([]Row, n)
	for i := range rows {
		r := base[i%len(base)]
		r.Name = fmt.Sprintf("%s-%04d", r.Name, i)
		r.Local = fmt.Sprintf("127.0.0.1:%d", 20000+i)
		rows[i] = r
	}
	return Snapshot{Workspace: "big", Contexts: []string{"kind-dev"}, Rows: rows, At: t0.Add(time.Duration(step) * time.Second)}
}

// sizes are the terminals the benchmarks draw on: the smallest the view
// supports well, and a large one (the table renders about twice the rows
// it shows, so the cost grows with the height).
var sizes = []struct{ w, h int }{{80, 24}, {160, 50}}

// BenchmarkFrame1000 is one frame of 1,000 forwards: a new snapshot taken
// in (traffic rings, cells, layout, the table's rows) and rendered.
func BenchmarkFrame1000(b *testing.B) {
	snaps := make([]Snapshot, 64)
	for i := range snaps {
		snaps[i] = manyRows(1000, int64(i))
	}
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			m := New(context.Background(), Options{Width: sz.w, Height: sz.h})
			m.Update(snaps[0])
			done := reportCPU(b)
			for i := 0; b.Loop(); i++ {
				m.Update(snaps[1+i%(len(snaps)-1)])
				_ = m.Render()
			}
			done()
		})
	}
}

// BenchmarkRender1000 is a redraw without new data: the table's window only.
func BenchmarkRender1000(b *testing.B) {
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			m := New(context.Background(), Options{Width: sz.w, Height: sz.h})
			m.Update(manyRows(1000, 1))
			for b.Loop() {
				_ = m.Render()
			}
		})
	}
}

// BenchmarkKey1000 is a cursor move and its frame with 1,000 forwards.
func BenchmarkKey1000(b *testing.B) {
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			m := New(context.Background(), Options{Width: sz.w, Height: sz.h})
			m.Update(manyRows(1000, 1))
			keys := []string{"j", "k"}
			for i := 0; b.Loop(); i++ {
				m.Update(press(keys[i%2]))
				_ = m.Render()
			}
		})
	}
}

// BenchmarkIdle100 is what the view costs `apply --watch` per snapshot of
// 100 idle forwards at 80×24: at one snapshot a second, ns/op / 1e7 is the
// percentage of one core.
func BenchmarkIdle100(b *testing.B) {
	snaps := make([]Snapshot, 16)
	for i := range snaps {
		snaps[i] = manyRows(100, 0)
		snaps[i].At = t0.Add(time.Duration(i) * time.Second)
	}
	m := New(context.Background(), Options{Width: 80, Height: 24})
	m.Update(snaps[0])
	done := reportCPU(b)
	for i := 0; b.Loop(); i++ {
		m.Update(snaps[1+i%(len(snaps)-1)])
		_ = m.Render()
	}
	done()
}
