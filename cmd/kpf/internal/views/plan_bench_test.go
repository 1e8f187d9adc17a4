package views

import (
	"fmt"
	"io"
	"testing"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec/model"
)

// planBenchInput is 1,000 forwards with a mix of changes: 600 running and
// unchanged, 150 new, 100 replaced, 50 dead, 50 unhealthy, 50 removed; every
// tenth new forward asks for a port another program holds.
func planBenchInput() ([]model.Forward, reconcile.Actual, busyPorts) {
	var desired []model.Forward
	actual := reconcile.Actual{}
	busy := busyPorts{}
	for i := range 950 {
		f := fwd(fmt.Sprintf("fwd-%04d", i), 20000+i)
		desired = append(desired, f)
		switch {
		case i < 600:
			actual[f.Name] = running(f, f.LocalPort)
			busy[fmt.Sprintf("127.0.0.1:%d", f.LocalPort)] = true
		case i < 750:
			if i%10 == 0 {
				busy[fmt.Sprintf("127.0.0.1:%d", f.LocalPort)] = true
			}
		case i < 850:
			old := f
			old.Namespace = "old"
			actual[f.Name] = running(old, f.LocalPort)
		case i < 900:
			actual[f.Name] = running(f, f.LocalPort, dead("error: lost connection to pod"))
		default:
			actual[f.Name] = running(f, f.LocalPort, func(o *reconcile.Observed) { o.Health = reconcile.HealthUnhealthy })
		}
	}
	for i := range 50 {
		f := fwd(fmt.Sprintf("gone-%03d", i), 30000+i)
		actual[f.Name] = running(f, f.LocalPort)
	}
	return desired, actual, busy
}

func BenchmarkDiffRender1000(b *testing.B) {
	desired, actual, busy := planBenchInput()
	// A map lookup costs about what a warm ports.Cache hit does.
	b.ReportAllocs()
	for b.Loop() {
		p := reconcile.Diff(desired, actual, busy)
		if err := NewPlan(io.Discard, false, false).Show(p.Redact()); err != nil {
			b.Fatal(err)
		}
	}
}
