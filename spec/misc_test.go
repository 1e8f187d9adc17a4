package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

func TestRenderDiagnostics(t *testing.T) {
	t.Parallel()
	l := NewLoader()
	_, diags := l.Load(LoadOptions{Dir: "testdata/render", Vars: []string{"port=[80]"}})
	if !diags.HasErrors() {
		t.Fatal("want errors")
	}
	testutil.Golden(t, "render/plain.golden", []byte(FormatDiagnosticsPlain(diags)))
	var b bytes.Buffer
	if err := l.WriteDiagnostics(&b, diags, false, 80); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "render/snippet.golden", b.Bytes())

	b.Reset()
	if err := WriteDiagnostics(&b, l.Files(), diags, true, 80); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[") {
		t.Error("color rendering has no escape sequences")
	}
}

func TestStarterSpec(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"shop", `we"ird ${name} %{x}`} {
		src := StarterSpec(name, "kind-dev")
		if !bytes.Equal(Format(src), src) {
			t.Errorf("starter spec is not formatted:\n%s", Format(src))
		}
		dir := writeFiles(t, map[string]string{"kpf.hcl": string(src)})
		ws := mustLoad(t, LoadOptions{Dir: dir})
		if ws.Name != name || len(ws.Forwards) != 1 || ws.Forwards[0].Context == "" {
			t.Errorf("starter workspace = %+v", ws)
		}
	}
}

func TestFormatDir(t *testing.T) {
	t.Parallel()
	messy := "forward \"a\" {\ntarget = \"svc/a\"\n    remote_port=1\n}\n"
	tidy := string(Format([]byte(messy)))
	if tidy == messy {
		t.Fatal("Format changed nothing")
	}
	tests := []struct {
		name        string
		check       bool
		wantChanged string
		wantMain    string
	}{
		{"check", true, "a.kpf.hcl,me.override.kpf.hcl", messy},
		{"write", false, "a.kpf.hcl,me.override.kpf.hcl", tidy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{
				"a.kpf.hcl":           messy,
				"kpf.hcl":             tidy,
				"me.override.kpf.hcl": "forward \"a\" {\nenabled=false\n}\n",
				"notes.hcl":           messy,
			})
			if err := os.Chmod(filepath.Join(dir, "a.kpf.hcl"), 0o640); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			changed, err := FormatDir(dir, tt.check, &out)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(changed, ","); got != tt.wantChanged {
				t.Errorf("changed = %s, want %s", got, tt.wantChanged)
			}
			if out.String() != strings.ReplaceAll(tt.wantChanged, ",", "\n")+"\n" {
				t.Errorf("listed %q", out.String())
			}
			got, err := os.ReadFile(filepath.Join(dir, "a.kpf.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.wantMain {
				t.Errorf("a.kpf.hcl = %q, want %q", got, tt.wantMain)
			}
			fi, err := os.Stat(filepath.Join(dir, "a.kpf.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
			}
			if notes, _ := os.ReadFile(filepath.Join(dir, "notes.hcl")); string(notes) != messy {
				t.Error("notes.hcl is not a spec file but was formatted")
			}
			// Formatting again changes nothing.
			if !tt.check {
				changed, err := FormatDir(dir, true, &out)
				if err != nil || len(changed) != 0 {
					t.Errorf("second run: changed %v, err %v", changed, err)
				}
			}
		})
	}
}

func TestFormatDirSyntaxError(t *testing.T) {
	t.Parallel()
	broken := "forward \"a\" {\n  target = \n"
	dir := writeFiles(t, map[string]string{"kpf.hcl": broken})
	_, err := FormatDir(dir, false, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "kpf.hcl:") {
		t.Errorf("err = %v, want a syntax error naming kpf.hcl", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "kpf.hcl")); string(got) != broken {
		t.Error("a file with a syntax error was rewritten")
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn   func(string) bool
		in   string
		want bool
	}{
		{isPortName, "http", true},
		{isPortName, "http-alt", true},
		{isPortName, "h2c", true},
		{isPortName, "8080", false},
		{isPortName, "-http", false},
		{isPortName, "ht--tp", false},
		{isPortName, "HTTP", false},
		{isPortName, "a-very-long-port-name", false},
		{isDNS1123Label, "kube-system", true},
		{isDNS1123Label, "Kube", false},
		{isDNS1123Label, "a.b", false},
		{isDNS1123Subdomain, "a.b-c", true},
		{isDNS1123Subdomain, "a..b", false},
		{isLabelKey, "app.kubernetes.io/name", true},
		{isLabelKey, "App_1", true},
		{isLabelKey, "/name", false},
		{isLabelKey, "a/b/c", false},
		{validForwardName, "api_v2", true},
		{validForwardName, "../etc", false},
		{validForwardName, "_x", false},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("validator(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{"svc/a": "service/a", "deploy/a": "deployment/a", "STS/a": "statefulset/a", "po/a.b": "pod/a.b",
		"deployment.apps/a": "deployment/a", "StatefulSets.apps/a": "statefulset/a"} {
		got, why := parseTarget(in)
		if why != "" || got.String() != want {
			t.Errorf("parseTarget(%q) = %v %q, want %s", in, got, why, want)
		}
	}
}

func TestForwardNamesIgnoreCase(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"kpf.hcl":   fmt.Sprintf(fwd, "api", "api"),
		"b.kpf.hcl": fmt.Sprintf(fwd, "Api", "api"),
	})
	_, diags := Load(LoadOptions{Dir: dir})
	// b.kpf.hcl loads before kpf.hcl: the later declaration is in kpf.hcl.
	want := `kpf.hcl:2:1: error: Forward names differ only in case: Forward "api" has the name of forward "Api", declared at b.kpf.hcl:2:1, but for case.`
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, want) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestDurationMinimums: every duration is accepted at its minimum and
// refused, with the minimum in the message, just below it.
func TestDurationMinimums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attr string
		min  time.Duration
		src  func(v string) string
	}{
		{"probe_cache_ttl", MinProbeCacheTTL, func(v string) string { return "kpf {\n  probe_cache_ttl = \"" + v + "\"\n}\n" }},
		{"check_interval", MinCheckInterval, func(v string) string { return "kpf {\n  check_interval = \"" + v + "\"\n}\n" }},
		{"interval", MinHealthInterval, func(v string) string { return "defaults {\n  health {\n    interval = \"" + v + "\"\n  }\n}\n" }},
		{"timeout", MinHealthTimeout, func(v string) string { return "defaults {\n  health {\n    timeout = \"" + v + "\"\n  }\n}\n" }},
	}
	const fwd = "forward \"a\" {\n  target      = \"svc/a\"\n  remote_port = 80\n}\n"
	for _, tc := range tests {
		t.Run(tc.attr, func(t *testing.T) {
			t.Parallel()
			if m := minDuration(tc.attr); m.min != tc.min {
				t.Fatalf("minDuration(%s) = %s, want %s", tc.attr, m.min, tc.min)
			}
			mustLoad(t, LoadOptions{Dir: writeFiles(t, map[string]string{"kpf.hcl": tc.src(tc.min.String()) + fwd})})
			below := (tc.min - time.Nanosecond).String()
			_, diags := Load(LoadOptions{Dir: writeFiles(t, map[string]string{"kpf.hcl": tc.src(below) + fwd})})
			got := FormatDiagnosticsPlain(diags)
			if !strings.Contains(got, "kpf.hcl:") || !strings.Contains(got, "Duration too short") || !strings.Contains(got, "at least "+tc.min.String()) {
				t.Errorf("%s = %s: got\n%s", tc.attr, below, got)
			}
		})
	}
}
