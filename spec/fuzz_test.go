package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary bytes to the loader as kpf.hcl plus an override:
// it must never panic, must return a workspace exactly when there are no
// errors, and every error must point into a file (file:line:col).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/invalid/*.hcl")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, []byte(""))
		}
	}
	for _, p := range []string{"../examples/basic/kpf.hcl", "../examples/demo/kpf.hcl"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, []byte("forward \"api\" {\n  local_port = 0\n}\n"))
		}
	}
	f.Add([]byte(generatedSpec(5)), []byte("kpf {\n  max_parallel = 0\n}\n"))
	f.Fuzz(func(t *testing.T, main, override []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "kpf.hcl"), main, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(override) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "me.override.kpf.hcl"), override, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		env := func(k string) string {
			if k == "KPF_VAR_context" {
				return "fuzz"
			}
			return ""
		}
		ws, diags := Load(LoadOptions{Dir: dir, Env: env, Vars: []string{"env=x"}})
		if diags.HasErrors() != (ws == nil) {
			t.Fatalf("workspace %v with errors %v", ws != nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil || d.Subject.Filename == "" || d.Subject.Start.Line < 1 {
				t.Fatalf("error without a place: %s: %s", d.Summary, d.Detail)
			}
		}
		if line := FormatDiagnosticsPlain(diags); diags.HasErrors() && !strings.Contains(line, ": error: ") {
			t.Fatalf("plain rendering lost the errors: %q", line)
		}
	})
}
