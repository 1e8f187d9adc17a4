package spec

import (
	"fmt"
	"strings"
	"testing"

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
	for b.Loop() {
		ws, diags := Load(LoadOptions{Dir: dir})
		if diags.HasErrors() || len(ws.Forwards) != n {
			b.Fatalf("load failed: %s", FormatDiagnosticsPlain(diags))
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
	for b.Loop() {
		if _, d := hclsyntax.ParseConfig(src, "kpf.hcl", hcl.InitialPos); d.HasErrors() {
			b.Fatal(d)
		}
	}
}
