package spec

import (
	"bytes"
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
	// Specs written to crash or exhaust the loader: nesting, size and
	// evaluation caps (see hostileSpecs).
	for _, h := range hostileSpecs() {
		f.Add([]byte(h.src), []byte(""))
	}
	// The environment's value of fuzzsecret must never show.
	f.Add([]byte("variable \"fuzzsecret\" {\n  sensitive = true\n}\nforward \"a\" {\n  target      = \"svc/a\"\n  namespace   = \"${var.fuzzsecret}!\"\n  remote_port = 80\n}\n"), []byte(""))
	f.Add([]byte("variable \"fuzzsecret\" {\n  type = number\n}\nforward \"a\" {\n  target      = \"svc/a\"\n  remote_port = var.fuzzsecret\n}\n"), []byte(""))
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
		const secret = "Zq7-secret-value"
		env := func(k string) string {
			switch k {
			case "KPF_VAR_context":
				return "fuzz"
			case "KPF_VAR_fuzzsecret":
				return secret
			}
			return ""
		}
		l := NewLoader()
		ws, diags := l.Load(LoadOptions{Dir: dir, Env: env, Vars: []string{"env=x"}})
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
		line := FormatDiagnosticsPlain(diags)
		if diags.HasErrors() && !strings.Contains(line, ": error: ") {
			t.Fatalf("plain rendering lost the errors: %q", line)
		}
		// A value from the environment never shows, in either rendering.
		var b strings.Builder
		if err := l.WriteDiagnostics(&b, diags, false, 0); err != nil {
			t.Fatal(err)
		}
		if leak := line + b.String(); strings.Contains(leak, secret[:8]) && !bytes.Contains(main, []byte(secret[:8])) && !bytes.Contains(override, []byte(secret[:8])) {
			t.Fatalf("a KPF_VAR_ value shows in diagnostics:\n%s", leak)
		}
	})
}
