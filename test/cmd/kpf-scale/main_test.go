//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var xs []time.Duration
	for i := 1; i <= 20; i++ {
		xs = append(xs, time.Duration(i)*time.Second)
	}
	tests := []struct {
		p    int
		want time.Duration
	}{{50, 10 * time.Second}, {95, 19 * time.Second}, {100, 20 * time.Second}, {1, time.Second}}
	for _, tt := range tests {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("p%d = %s, want %s", tt.p, got, tt.want)
		}
	}
	if got := percentile([]time.Duration{3}, 95); got != 3 {
		t.Errorf("p95 of one = %s", got)
	}
}

func TestProcReaders(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	// Burn CPU until the counter (clock ticks of CPU time, not wall time:
	// on a loaded machine 30 ms of wall time may be no tick at all) moves.
	var ticks int64
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ticks, err = cpuTicks(pid); err != nil || ticks > 0 {
			break
		}
	}
	if err != nil || ticks <= 0 {
		t.Fatalf("cpuTicks = %d, %v", ticks, err)
	}
	rss, pss, err := procMemory(pid)
	if err != nil || rss <= 0 || pss <= 0 || pss > rss {
		t.Fatalf("procMemory = %d, %d, %v", rss, pss, err)
	}
	if _, err := cpuTicks(-1); err == nil {
		t.Error("cpuTicks of no process did not fail")
	}
}

func TestWriteWorkspace(t *testing.T) {
	t.Parallel()
	r := &run{opts: options{forwards: 5, context: "ctx", namespace: "ns", basePort: 41000}, wsDir: t.TempDir()}
	if err := r.writeWorkspace([]string{"service/a:80", "deploy/b:8080"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.wsDir + "/kpf.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, want := range []string{`forward "f004"`, `target      = "deploy/b"`, "remote_port = 8080", `http = "/healthz"`} {
		if !strings.Contains(src, want) {
			t.Errorf("workspace lacks %q:\n%s", want, src)
		}
	}
	if strings.Count(src, "forward \"") != 5 {
		t.Errorf("want 5 forwards:\n%s", src)
	}
	if err := r.writeWorkspace([]string{"service/a"}); err == nil {
		t.Error("a target without a port was accepted")
	}
}

func TestVmHWM(t *testing.T) {
	t.Parallel()
	if v := vmHWM(os.Getpid()); v <= 0 {
		t.Errorf("vmHWM of this process = %d", v)
	}
	if v := vmHWM(-1); v != -1 {
		t.Errorf("vmHWM of no process = %d, want -1", v)
	}
}

func TestSpawnKinds(t *testing.T) {
	t.Parallel()
	lines := []string{
		"2025-01-01T00:00:00Z 10 config view -o jsonpath=x",
		"2025-01-01T00:00:01Z 11 --context kpf-local port-forward --address 127.0.0.1",
		"2025-01-01T00:00:02Z 12 --kubeconfig /k/config config view",
	}
	if got, want := spawnKinds(lines), " (2× config, 1× port-forward)"; got != want {
		t.Errorf("spawnKinds = %q, want %q", got, want)
	}
	if got := spawnKinds(nil); got != "" {
		t.Errorf("spawnKinds(nil) = %q", got)
	}
}
