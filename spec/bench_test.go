package spec

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// generatedSpec is a workspace of n forwards using variables, locals,
// defaults, health blocks, selectors and functions.
func generatedSpec(n int) string {
	var b strings.Builder
	b.WriteString(`kpf {
  name            = "bench-${var.env}"
  probe_cache_ttl = "5s"
  max_parallel    = 8
}

variable "context" {
  type    = string
  default = "kind-bench"
}

variable "env" {
  type    = string
  default = "dev"
}

variable "base_port" {
  type    = number
  default = 20000
}

locals {
  ns     = "shop-${var.env}"
  data   = "${local.ns}-data"
  labels = { tier = "backend", env = var.env }
}

defaults {
  context   = var.context
  namespace = local.ns
  address   = "127.0.0.1"
  health {
    interval          = "5s"
    failure_threshold = 3
  }
}
`)
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `
forward "svc-%d" {
  target      = "service/svc-%d"
  local_port  = var.base_port + %d
  remote_port = "http"
  open        = "/docs/"
  health {
    http    = "/healthz"
    timeout = "1s"
  }
}
`, i, i, i)
		case 1:
			fmt.Fprintf(&b, `
forward "db-%d" {
  selector    = merge(local.labels, { app = "db-%d" })
  namespace   = local.data
  local_port  = var.base_port + %d
  remote_port = 5432
  health {
    tcp = true
  }
}
`, i, i, i)
		default:
			fmt.Fprintf(&b, `
forward "worker-%d" {
  target      = "deploy/worker-%d"
  local_port  = %d
  remote_port = 9090
  enabled     = %t
}
`, i, i, 30000+i, i%2 == 0)
		}
	}
	return b.String()
}

func TestGeneratedSpecLoads(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": generatedSpec(100)})
	ws := mustLoad(t, LoadOptions{Dir: dir})
	if len(ws.Forwards) != 100 || ws.Name != "bench-dev" {
		t.Fatalf("got %d forwards, name %q", len(ws.Forwards), ws.Name)
	}
}

func benchmarkLoad(b *testing.B, n int) {
	dir := writeFiles(b, map[string]string{"kpf.hcl": generatedSpec(n)})
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		ws, diags := Load(LoadOptions{Dir: dir})
		if diags.HasErrors() || len(ws.Forwards) != n {
			b.Fatalf("load failed: %s", FormatDiagnosticsPlain(diags))
		}
	}
}

// reportCPU adds the metric cpu-ns/op: process CPU time (GC included) per
// op, measured from the call to when the returned function runs. On a
// machine shared with other work, wall time per op swings with the load
// while CPU time per op stays close; compare kpf's share of a load in it.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkLoad100 loads a 100-forward workspace cold on every op.
func BenchmarkLoad100(b *testing.B) { benchmarkLoad(b, 100) }

// BenchmarkLoad22 matches kportforward's default config size.
func BenchmarkLoad22(b *testing.B) { benchmarkLoad(b, 22) }

// BenchmarkParseOnly100 is the floor under BenchmarkLoad100: hclsyntax
// parsing of the same file, with no decoding or evaluation.
func BenchmarkParseOnly100(b *testing.B) {
	src := []byte(generatedSpec(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	defer reportCPU(b)()
	for b.Loop() {
		if _, d := hclsyntax.ParseConfig(src, "kpf.hcl", hcl.InitialPos); d.HasErrors() {
			b.Fatal(d)
		}
	}
}

// BenchmarkLoadShare100 measures kpf's own share of a load: each op parses
// the 100-forward file with hclsyntax alone, then loads it with Load, and
// the metrics are the two CPU times and the share kpf adds on top of the
// parse (decode, evaluate, validate, file reading, hardening and the GC
// all of it causes), in percent. Interleaving the two in every op makes
// the share hold still on a machine whose speed varies with other work.
func BenchmarkLoadShare100(b *testing.B) {
	src := generatedSpec(100)
	dir := writeFiles(b, map[string]string{"kpf.hcl": src})
	var parse, load time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := processCPU()
		if _, d := hclsyntax.ParseConfig([]byte(src), "kpf.hcl", hcl.InitialPos); d.HasErrors() {
			b.Fatal(d)
		}
		t1 := processCPU()
		if ws, d := Load(LoadOptions{Dir: dir}); d.HasErrors() || len(ws.Forwards) != 100 {
			b.Fatal(d)
		}
		t2 := processCPU()
		parse += t1 - t0
		load += t2 - t1
	}
	if parse > 0 {
		b.ReportMetric(float64(parse)/float64(b.N), "parse-cpu-ns/op")
		b.ReportMetric(float64(load)/float64(b.N), "load-cpu-ns/op")
		b.ReportMetric(100*float64(load-parse)/float64(parse), "kpf-share-%")
	}
}

// loadOnceEnv names the workspace TestLoadOnceHelper loads, in a child
// process started by BenchmarkLoad100FreshProcess.
const loadOnceEnv = "KPF_SPEC_BENCH_LOAD_ONCE"

// TestLoadOnceHelper is not a test: run by BenchmarkLoad100FreshProcess in
// a child process, it loads a workspace once and prints how long that took.
func TestLoadOnceHelper(t *testing.T) {
	dir := os.Getenv(loadOnceEnv)
	if dir == "" {
		t.Skip("helper process of BenchmarkLoad100FreshProcess")
	}
	t0 := time.Now()
	ws, diags := Load(LoadOptions{Dir: dir})
	d := time.Since(t0)
	if diags.HasErrors() || ws == nil {
		t.Fatal(FormatDiagnosticsPlain(diags))
	}
	fmt.Printf("load-ns=%d\n", d.Nanoseconds())
}

// BenchmarkLoad100FreshProcess loads the 100-forward workspace once per
// fresh process, as every kpf command does: each op starts the test binary
// (so ns/op is mostly process start-up), and the load-ns/op metric is the
// median of the Load calls alone. Unlike BenchmarkLoad100, no op pays for
// the garbage of the ops before it.
func BenchmarkLoad100FreshProcess(b *testing.B) {
	dir := writeFiles(b, map[string]string{"kpf.hcl": generatedSpec(100)})
	var loads []int64
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadOnceHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), loadOnceEnv+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("helper: %v\n%s", err, out)
		}
		var ns int64
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "load-ns="); ok {
				ns, err = strconv.ParseInt(v, 10, 64)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		if ns == 0 {
			b.Fatalf("helper printed no load time:\n%s", out)
		}
		loads = append(loads, ns)
	}
	slices.Sort(loads)
	b.ReportMetric(float64(loads[len(loads)/2]), "load-ns/op")
}
