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
