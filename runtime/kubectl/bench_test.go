//go:build linux || darwin

package kubectl

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
)

// BenchmarkInspect measures one status check of a live forward (the fake
// kubectl) with a large log: the identity check (/proc stat, status, exe,
// cmdline) plus a 16 KiB tail read, no process spawned.
func BenchmarkInspect(b *testing.B) {
	p := filepath.Join(b.TempDir(), "api.log")
	r := &Runtime{Kubectl: fakeKubectl, Env: []string{"FAKE_KUBECTL_MODE=ready"}, LogPath: func(string) string { return p }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h, err := r.Start(context.Background(), runtime.Spec{Name: "api", Target: kinds.Target{Kind: kinds.Service, Name: "api"}, Context: "c",
		Namespace: "n", Address: "127.0.0.1", LocalPort: port, RemotePort: "80"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background(), h)
	// Below MaxLogSize, so that Inspect never rotates it.
	log := StartMarker + "x\nForwarding from 127.0.0.1:8080 -> 80\n" + strings.Repeat("Handling connection for 8080\n", 30000) + "error: lost connection to pod\n"
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := r.Inspect(context.Background(), h)
		if err != nil || !s.Alive || s.LastError == "" {
			b.Fatalf("%+v %v", s, err)
		}
	}
}
