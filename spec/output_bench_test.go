package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
)

// outputsWorkspace is n forwards, each with one output over its address.
func outputsWorkspace(n int, outputs bool) string {
	var b strings.Builder
	b.WriteString("defaults {\n  context = \"kind-dev\"\n  namespace = \"shop\"\n}\n")
	for i := range n {
		fmt.Fprintf(&b, "forward \"f%d\" {\n  target = \"service/s%d\"\n  remote_port = \"http\"\n}\n", i, i)
		if outputs {
			fmt.Fprintf(&b, "output \"F%d_URL\" {\n  value = \"http://${forward.f%d.address}/\"\n}\n", i, i)
		}
	}
	return b.String()
}

// BenchmarkLoadOutputs: a load of 100 forwards, without and with one
// output each (the outputs' check at load is the difference).
func BenchmarkLoadOutputs(b *testing.B) {
	for _, outputs := range []bool{false, true} {
		b.Run(fmt.Sprintf("outputs=%v", outputs), func(b *testing.B) {
			dir := writeFiles(b, map[string]string{"kpf.hcl": outputsWorkspace(100, outputs)})
			b.ReportAllocs()
			for b.Loop() {
				if _, diags := Load(LoadOptions{Dir: dir}); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		})
	}
}

// BenchmarkEvalOutputs: evaluating 100 outputs against 100 endpoints, as
// kpf output and kpf env do once per run.
func BenchmarkEvalOutputs(b *testing.B) {
	dir := writeFiles(b, map[string]string{"kpf.hcl": outputsWorkspace(100, true)})
	l := NewLoader()
	if _, diags := l.Load(LoadOptions{Dir: dir}); diags.HasErrors() {
		b.Fatal(diags)
	}
	eps := map[string]model.Endpoint{}
	for i := range 100 {
		eps[fmt.Sprintf("f%d", i)] = model.NewEndpoint("127.0.0.1", 20000+i, "")
	}
	b.ReportAllocs()
	for b.Loop() {
		if outs := l.Outputs().Eval(eps); len(outs) != 100 || !outs[0].Known {
			b.Fatal(outs[0])
		}
	}
}
