package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

// TestApplyJSONSpecErrors: `kpf apply --json` of a spec that does not load
// reports its diagnostics in the stream, as data with their place, after
// the version line; nothing of them on stderr; exit 1.
func TestApplyJSONSpecErrors(t *testing.T) {
	tests := []struct {
		name, src string
		wantLine  int
		wantSev   string
	}{
		{"syntax error", "forward \"broken\" {\n  target = \n", 2, "error"},
		{"unknown argument", "forward \"x\" {\n  target = \"svc/x\"\n  remote_port = 80\n  colour = 1\n}\n", 4, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSpec(t, dir, "kpf.hcl", tt.src)
			code, out, errOut := newCLI(t).run("-C", dir, "apply", "--json")
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if strings.Contains(errOut, "kpf.hcl:") {
				t.Errorf("the diagnostics went to stderr too:\n%s", errOut)
			}
			var types []string
			var diag struct {
				Severity string `json:"severity"`
				Range    struct {
					Filename string `json:"filename"`
					Start    struct{ Line int }
				} `json:"range"`
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				var l struct {
					Type       string          `json:"type"`
					Diagnostic json.RawMessage `json:"diagnostic"`
				}
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("not JSON: %v: %s", err, sc.Text())
				}
				types = append(types, l.Type)
				if l.Type == "diagnostic" && diag.Severity == "" {
					if err := json.Unmarshal(l.Diagnostic, &diag); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(types) < 2 || types[0] != "version" || types[1] != "diagnostic" {
				t.Fatalf("lines %v, want version then diagnostic:\n%s", types, out)
			}
			if diag.Severity != tt.wantSev || !strings.HasSuffix(diag.Range.Filename, "kpf.hcl") || diag.Range.Start.Line != tt.wantLine {
				t.Errorf("diagnostic %+v, want %s at kpf.hcl:%d", diag, tt.wantSev, tt.wantLine)
			}
		})
	}
}
