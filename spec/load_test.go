package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// writeFiles writes name → content into a fresh temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, opts LoadOptions) *Workspace {
	t.Helper()
	ws, diags := Load(opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", FormatDiagnosticsPlain(diags))
	}
	return ws
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var markerRE = regexp.MustCompile(`(ERROR|WARNING): ([^#]+)`)

// expectedDiags reads the "# ERROR: summary" and "# WARNING: summary" marks
// of every spec file in dir as "file:line: severity: summary".
func expectedDiags(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			_, comment, ok := strings.Cut(line, "#")
			if !ok {
				continue
			}
			for _, m := range markerRE.FindAllStringSubmatch(comment, -1) {
				want = append(want, diagKey(e.Name(), i+1, strings.ToLower(m[1]), strings.TrimSpace(m[2])))
			}
		}
	}
	sort.Strings(want)
	return want
}

func diagKey(file string, line int, sev, summary string) string {
	return fmt.Sprintf("%s:%d: %s: %s", file, line, sev, summary)
}

// TestInvalid loads every testdata/invalid case and compares diagnostics
// by file, line, severity and summary with the marks, in both directions.
// A case is a .hcl file (loaded as kpf.hcl) or a directory.
func TestInvalid(t *testing.T) {
	entries, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(strings.TrimSuffix(e.Name(), ".hcl"), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata/invalid", e.Name())
			if !e.IsDir() {
				src, err := os.ReadFile(dir)
				if err != nil {
					t.Fatal(err)
				}
				dir = writeFiles(t, map[string]string{"kpf.hcl": string(src)})
			}
			want := expectedDiags(t, dir)
			if len(want) == 0 {
				t.Fatal("case has no ERROR or WARNING marks")
			}
			_, diags := Load(LoadOptions{Dir: dir})
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s", FormatDiagnosticsPlain(hcl.Diagnostics{d}))
					continue
				}
				sev := "error"
				if d.Severity == hcl.DiagWarning {
					sev = "warning"
				}
				got = append(got, diagKey(d.Subject.Filename, d.Subject.Start.Line, sev, d.Summary))
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("diagnostics differ\n--- got ---\n%s\n--- want ---\n%s\n--- all ---\n%s",
					strings.Join(got, "\n"), strings.Join(want, "\n"), FormatDiagnosticsPlain(diags))
			}
		})
	}
}

// workspaceJSON renders ws for golden files, without the machine-specific Dir.
func workspaceJSON(t *testing.T, ws *Workspace) []byte {
	t.Helper()
	c := *ws
	c.Dir = ""
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestValid loads every testdata/valid directory and compares the
// workspace with its golden JSON.
func TestValid(t *testing.T) {
	entries, err := os.ReadDir("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata/valid", e.Name())
			ws, diags := Load(LoadOptions{Dir: dir, Env: envMap(map[string]string{"USER": "ada", "KPF_VAR_team": "payments"})})
			if diags.HasErrors() {
				t.Fatalf("unexpected errors:\n%s", FormatDiagnosticsPlain(diags))
			}
			testutil.Golden(t, filepath.Join("valid", e.Name()+".golden.json"), workspaceJSON(t, ws))
			if len(diags) > 0 {
				testutil.Golden(t, filepath.Join("valid", e.Name()+".warnings.golden"), []byte(FormatDiagnosticsPlain(diags)))
			}
		})
	}
	if n == 0 {
		t.Fatal("no valid cases")
	}
}

// TestExamples loads every workspace under ../examples; none may have errors.
func TestExamples(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir("../examples", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		primary, override, err := workspaceFiles(path)
		if err != nil {
			return err
		}
		if len(primary)+len(override) > 0 {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 2 {
		t.Fatalf("found %d example workspaces, want at least basic and override", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			ws := mustLoad(t, LoadOptions{Dir: dir})
			if len(ws.Forwards) == 0 {
				t.Error("example has no forwards")
			}
		})
	}
}

func TestExampleOverride(t *testing.T) {
	t.Parallel()
	ws := mustLoad(t, LoadOptions{Dir: "../examples/override"})
	byName := map[string]Forward{}
	for _, f := range ws.Forwards {
		byName[f.Name] = f
	}
	if got := byName["grpc"].LocalPort; got != 19090 {
		t.Errorf("grpc local_port = %d, want the override's 19090", got)
	}
	if byName["redis"].Enabled {
		t.Error("redis is enabled, want disabled by the override")
	}
	if !byName["metrics"].Enabled || byName["metrics"].LocalPort != 9091 {
		t.Errorf("metrics changed: %+v", byName["metrics"])
	}
	if want := []string{"kpf.hcl", "me.override.kpf.hcl"}; strings.Join(ws.Files, ",") != strings.Join(want, ",") {
		t.Errorf("files = %v, want %v", ws.Files, want)
	}
}

func TestNoFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty", nil, "no kpf.hcl or *.kpf.hcl in"},
		{"only skipped", map[string]string{"kpf.hcl~": "", ".a.kpf.hcl": "", "main.tf": ""}, "no kpf.hcl or *.kpf.hcl in"},
		{"only override", map[string]string{"me.override.kpf.hcl": ""}, "only override files (me.override.kpf.hcl)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			ws, diags := Load(LoadOptions{Dir: dir})
			if ws != nil || !diags.HasErrors() {
				t.Fatalf("got a workspace, want an error")
			}
			if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, tt.want) || !strings.Contains(got, dir) {
				t.Errorf("error %q does not contain %q and the directory", got, tt.want)
			}
		})
	}
}

const fwd = `
forward %q {
  target      = "svc/%s"
  remote_port = 80
}
`

func TestFileOrderAndSkipRules(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"kpf.hcl":              fmt.Sprintf(fwd, "main", "main"),
		"b.kpf.hcl":            fmt.Sprintf(fwd, "b", "b"),
		"a.kpf.hcl":            fmt.Sprintf(fwd, "a", "a"),
		"z.override.kpf.hcl":   `forward "a" { local_port = 2 }`,
		"m.override.kpf.hcl":   `forward "a" { local_port = 1 }`,
		".hidden.kpf.hcl":      "this is not HCL {",
		"x.kpf.hcl~":           "this is not HCL {",
		"#x.kpf.hcl#":          "this is not HCL {",
		"x.kpf.hcl.swp":        "this is not HCL {",
		"x.kpf.hcl.bak":        "this is not HCL {",
		"x.kpf.hcl.orig":       "this is not HCL {",
		"x.kpf.hcl.orig.swp":   "this is not HCL {",
		"notes.hcl":            "this is not HCL {",
		"kpf.hcl.d.kpf.hcl.sw": "this is not HCL {",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub.kpf.hcl"), 0o700); err != nil {
		t.Fatal(err)
	}
	ws := mustLoad(t, LoadOptions{Dir: dir})
	want := "a.kpf.hcl,b.kpf.hcl,kpf.hcl,m.override.kpf.hcl,z.override.kpf.hcl"
	if got := strings.Join(ws.Files, ","); got != want {
		t.Errorf("files = %s, want %s", got, want)
	}
	// Overrides apply in name order: the last one wins.
	if ws.Forwards[0].Name != "a" || ws.Forwards[0].LocalPort != 2 {
		t.Errorf("forward a = %+v, want local_port 2 from z.override.kpf.hcl", ws.Forwards[0])
	}
	if ws.Name != filepath.Base(dir) {
		t.Errorf("name = %q, want the directory name %q", ws.Name, filepath.Base(dir))
	}
}
