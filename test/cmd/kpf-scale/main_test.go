//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestP50P95(t *testing.T) {
	t.Parallel()
	var twenty []time.Duration
	for i := 1; i <= 20; i++ {
		twenty = append(twenty, time.Duration(i)*100*time.Millisecond)
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		want   string
	}{
		{"one", []time.Duration{250 * time.Millisecond}, "p50 250 ms, p95 250 ms"},
		{"twenty", twenty, "p50 1.00 s, p95 1.90 s"},
	} {
		if got := p50p95(tt.sorted); got != tt.want {
			t.Errorf("%s: p50p95 = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProcMemory(t *testing.T) {
	t.Parallel()
	rss, pss, err := procMemory(os.Getpid())
	if err != nil || rss <= 0 || pss <= 0 || pss > rss {
		t.Fatalf("procMemory = %d, %d, %v", rss, pss, err)
	}
	if _, _, err := procMemory(-1); err == nil {
		t.Error("procMemory of no process did not fail")
	}
}

func TestWriteWorkspace(t *testing.T) {
	t.Parallel()
	r := &run{opts: options{context: "ctx", namespace: "ns", healthBlocks: true}, rt: runtimeNative, wsDir: t.TempDir()}
	if err := r.writeWorkspace([]string{"service/a:80", "deploy/b:8080"}, 5, 41000); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.wsDir + "/kpf.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, want := range []string{`forward "f004"`, `target      = "deploy/b"`, "remote_port = 8080", `http = "/healthz"`, `runtime = "native"`, "default = 41000"} {
		if !strings.Contains(src, want) {
			t.Errorf("workspace lacks %q:\n%s", want, src)
		}
	}
	if strings.Count(src, "forward \"") != 5 {
		t.Errorf("want 5 forwards:\n%s", src)
	}
	r.opts.healthBlocks = false // --health-blocks=false: idle forwards go unchecked
	if err := r.writeWorkspace([]string{"service/a:80"}, 3, 41000); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(r.wsDir + "/kpf.hcl"); err != nil || strings.Contains(string(b), "health") {
		t.Errorf("--health-blocks=false wrote a health block (%v):\n%s", err, b)
	}
	if err := r.writeWorkspace([]string{"service/a"}, 1, 41000); err == nil {
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

func TestParseRuntimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{nil, []string{"kubectl", "native"}, false},
		{[]string{"--runtimes", "native"}, []string{"native"}, false},
		{[]string{"--runtimes", " native , kubectl"}, []string{"native", "kubectl"}, false},
		{[]string{"--runtimes", "docker"}, nil, true},
		{[]string{"--runtimes", ","}, nil, true},
		{[]string{"--many", "-1"}, nil, true},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if err == nil && !slices.Equal(o.runtimes, tt.want) {
			t.Errorf("parseFlags(%q) runtimes = %q, want %q", tt.args, o.runtimes, tt.want)
		}
	}
}

func TestTableSideBySide(t *testing.T) {
	t.Parallel()
	r := &run{opts: options{forwards: 100, runtimes: []string{"kubectl", "native"}}, log: hclog.NewNullLogger()}
	r.rt = "kubectl"
	r.add("apply", "4.1 s", "≤ 1.0 s native", "100 processes")
	r.add("only kubectl", "1", "—", "")
	r.rt = "native"
	r.add("apply", "0.4 s", "≤ 1.0 s native", "one agent")
	r.notes = append(r.notes, "binary: 40 MB")
	got := r.table()
	for _, want := range []string{
		"| measure (100 forwards unless said) | kubectl | native | target | notes |",
		"| apply | 4.1 s | 0.4 s | ≤ 1.0 s native | kubectl: 100 processes; native: one agent |",
		"| only kubectl | 1 | — | — |  |",
		"- binary: 40 MB",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestModuleOf(t *testing.T) {
	t.Parallel()
	mods := []string{"k8s.io/api", "k8s.io/apimachinery", "github.com/kpf-dev/kpf"}
	tests := map[string]string{
		"k8s.io/api/core/v1.(*Pod).Marshal":     "k8s.io/api",
		"k8s.io/apimachinery/pkg/util/net.Dial": "k8s.io/apimachinery",
		"github.com/kpf-dev/kpf/spec.Load":      "github.com/kpf-dev/kpf",
		"net/http.(*Client).Do":                 "std (incl. runtime, type data)",
		"runtime.mallocgc":                      "std (incl. runtime, type data)",
		"type:*k8s.io/api/core/v1.Pod":          "std (incl. runtime, type data)",
		"example.com/unknown.F":                 "other",
	}
	for sym, want := range tests {
		if got := moduleOf(sym, mods); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", sym, got, want)
		}
	}
}

// TestJoinDurNoAnswer: a deletion whose new pod never answered is a figure
// in the row ("none in 30.00 s"), not the end of the run.
func TestJoinDurNoAnswer(t *testing.T) {
	got := joinDur([]time.Duration{49 * time.Millisecond, noAnswer, 2 * time.Second})
	if want := "49 ms, none in 30.00 s, 2.00 s"; got != want {
		t.Errorf("joinDur = %q, want %q", got, want)
	}
}

func TestTimedLoop(t *testing.T) {
	for _, period := range []time.Duration{0, time.Millisecond} {
		stop := make(chan struct{})
		calls := 0
		took, failed := timedLoop(context.Background(), stop, period, func() error {
			calls++
			if calls == 6 {
				close(stop)
			}
			if calls%2 == 0 {
				return errors.New("failed")
			}
			return nil
		})
		if len(took) != 3 || failed != 3 {
			t.Errorf("period %s: %d timed, %d failed; want 3 and 3", period, len(took), failed)
		}
	}
}

func TestLastReleaseIn(t *testing.T) {
	for _, tt := range []struct{ log, want string }{
		{"", "none"},
		{"2026-12-07T06:02:02.427Z [INFO]  kpf-agent: forward started: forward=f001\n", "none"},
		{"2026-12-07T06:02:02.427Z [INFO]  kpf-agent: memory released after tunnels or connections closed: heap_in_use_mb=32.7 urgent=false\n" +
			"2026-12-07T06:02:23.701Z [INFO]  kpf-agent: memory released after tunnels or connections closed: heap_in_use_mb=105.0 urgent=true\n" +
			"2026-12-07T06:02:24.000Z [INFO]  kpf-agent: forward started: forward=f001\n",
			"heap_in_use_mb=105.0 urgent=true"},
	} {
		if got := lastReleaseIn(tt.log); got != tt.want {
			t.Errorf("lastReleaseIn(%q) = %q, want %q", tt.log, got, tt.want)
		}
	}
}
