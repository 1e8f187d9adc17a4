//go:build linux || darwin

package proc

import (
	"os"
	"testing"
)

// BenchmarkAlive measures one identity check (the cost per forward of
// observing actual state).
func BenchmarkAlive(b *testing.B) {
	st, err := StartTime(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	h := ID{PID: os.Getpid(), StartTime: st}
	b.ReportAllocs()
	for b.Loop() {
		if !Alive(h) {
			b.Fatal("not alive")
		}
	}
}

// BenchmarkMarked measures one scan of every process for an environment
// mark (what a sweep costs at each apply and destroy); it reports how many
// processes the machine had.
func BenchmarkMarked(b *testing.B) {
	all, err := pids()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marked("KPF_BENCH_NO_SUCH_MARK=1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(all)), "processes")
}
