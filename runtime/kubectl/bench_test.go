//go:build linux || darwin

package kubectl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/runtime/proc"
)

// BenchmarkInspect measures one status check of a live process with a
// large log: a /proc lookup plus a 16 KiB tail read, no process spawned.
func BenchmarkInspect(b *testing.B) {
	p := filepath.Join(b.TempDir(), "api.log")
	log := StartMarker + "x\nForwarding from 127.0.0.1:8080 -> 80\n" + strings.Repeat("Handling connection for 8080\n", 40000) + "error: lost connection to pod\n"
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		b.Fatal(err)
	}
	st, err := proc.StartTime(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandle(proc.ID{PID: os.Getpid(), StartTime: st}, "api")
	if err != nil {
		b.Fatal(err)
	}
	r := &Runtime{LogPath: func(string) string { return p }}
	b.ReportAllocs()
	for b.Loop() {
		s, err := r.Inspect(context.Background(), h)
		if err != nil || !s.Alive || s.LastError == "" {
			b.Fatalf("%+v %v", s, err)
		}
	}
}
