package reconcile

import (
	"fmt"
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
)

// diffBenchInput is 1,000 forwards with a mix of changes: 600 running and
// unchanged, 150 new, 100 replaced, 50 dead, 50 unhealthy, 50 removed; every
// tenth new forward asks for a port another program holds.
func diffBenchInput() ([]model.Forward, Actual, dbusyPorts) {
	var desired []model.Forward
	actual := Actual{}
	busy := dbusyPorts{}
	for i := range 950 {
		f := dfwd(fmt.Sprintf("fwd-%04d", i), 20000+i)
		desired = append(desired, f)
		switch {
		case i < 600:
			actual[f.Name] = drunning(f, f.LocalPort)
			busy[fmt.Sprintf("127.0.0.1:%d", f.LocalPort)] = true
		case i < 750:
			if i%10 == 0 {
				busy[fmt.Sprintf("127.0.0.1:%d", f.LocalPort)] = true
			}
		case i < 850:
			old := f
			old.Namespace = "old"
			actual[f.Name] = drunning(old, f.LocalPort)
		case i < 900:
			actual[f.Name] = drunning(f, f.LocalPort, ddead("error: lost connection to pod"))
		default:
			actual[f.Name] = drunning(f, f.LocalPort, func(o *Observed) { o.Health = HealthUnhealthy })
		}
	}
	for i := range 50 {
		f := dfwd(fmt.Sprintf("gone-%03d", i), 30000+i)
		actual[f.Name] = drunning(f, f.LocalPort)
	}
	return desired, actual, busy
}

func BenchmarkDiff1000(b *testing.B) {
	desired, actual, busy := diffBenchInput()
	b.ReportAllocs()
	for b.Loop() {
		Diff(desired, actual, busy)
	}
}
