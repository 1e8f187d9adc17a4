package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rendered returns diags in both renderings, plain and with snippets.
func rendered(t *testing.T, l *Loader, opts LoadOptions) (string, *Workspace) {
	t.Helper()
	ws, diags := l.Load(opts)
	var b bytes.Buffer
	if err := l.WriteDiagnostics(&b, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	return FormatDiagnosticsPlain(diags) + b.String(), ws
}

const secret = "hunter2-SECRET"

func TestSensitiveValuesAreNotShown(t *testing.T) {
	t.Parallel()
	head := `
variable "secret" {
  type      = string
  sensitive = true
}
variable "num" {
  type      = number
  default   = 5
  sensitive = true
}
locals {
  derived = "${var.secret}-x"
  obj     = { k = var.secret }
}
`
	tests := []struct {
		name, body, want string
	}{
		{"namespace", `forward "f" {
  target      = "svc/a"
  namespace   = var.secret
  remote_port = 80
}`, "Invalid namespace: (sensitive value) is not a valid namespace"},
		{"derived through a template", `forward "f" {
  target      = "svc/a"
  namespace   = local.derived
  remote_port = 80
}`, "Invalid namespace: (sensitive value)"},
		{"through an object", `forward "f" {
  target      = "svc/a"
  namespace   = local.obj.k
  remote_port = 80
}`, "Invalid namespace: (sensitive value)"},
		{"target", `forward "f" {
  target      = var.secret
  remote_port = 80
}`, "Invalid target: (sensitive value) is not a valid target"},
		{"selector", `forward "f" {
  selector    = { app = "${var.secret}!" }
  remote_port = 80
}`, "is not a valid value for label"},
		{"wrong type", `forward "f" {
  target      = "svc/a"
  local_port  = var.secret
  remote_port = 80
}`, "Incorrect attribute value type"},
		{"function error", `forward "f" {
  target      = "svc/a"
  local_port  = parseint(var.secret, 10)
  remote_port = 80
}`, "failed on a value from a sensitive variable, --var or KPF_VAR_name, which is not shown"},
		{"number", `forward "f" {
  target      = "svc/a"
  local_port  = var.num * 100000
  remote_port = 80
}`, "local_port must be a whole number from 0 to 65535, not (sensitive value)"},
		{"port conflict", `forward "f" {
  target      = "svc/a"
  local_port  = var.num + 8000
  remote_port = 80
}
forward "g" {
  target      = "svc/a"
  local_port  = 8005
  remote_port = 80
}`, "uses the same local address and port (not shown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": head + tt.body + "\n"})
			out, ws := rendered(t, NewLoader(), LoadOptions{Dir: dir, Vars: []string{"secret=" + secret}})
			if ws != nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			for _, leak := range []string{secret, "500000", "8005:"} {
				if strings.Contains(out, leak) && !strings.Contains(tt.body, leak) {
					t.Errorf("output shows %q:\n%s", leak, out)
				}
			}
		})
	}
}

func TestSensitiveFields(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": `
variable "ctx" {
  default   = "prod-admin"
  sensitive = true
}
variable "path" {
  default   = "/secret"
  sensitive = true
}
variable "plain" {
  default = "dev"
}
defaults {
  context = var.ctx
  health {
    http = var.path
  }
}
forward "inherits" {
  target      = "svc/a"
  remote_port = 80
}
forward "own" {
  target      = "svc/${var.plain}"
  context     = var.plain
  namespace   = "ns-${var.ctx}"
  remote_port = 80
  open        = var.path
  health {
    tcp = true
  }
}
forward "none" {
  target      = "svc/b"
  context     = "x"
  remote_port = 80
  health {
    none = true
  }
}
`})
	ws := mustLoad(t, LoadOptions{Dir: dir})
	got := map[string][]string{}
	for _, f := range ws.Forwards {
		got[f.Name] = f.SensitiveFields()
	}
	want := map[string][]string{
		"inherits": {FieldContext, FieldHealth},
		// Health builds on the defaults' health block, which has a
		// sensitive value: it stays sensitive even where the forward's
		// own block replaces that value (conservative).
		"own":  {FieldHealth, FieldNamespace, FieldOpen},
		"none": {FieldHealth},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sensitive fields = %v, want %v", got, want)
	}
	if ws.Forwards[0].Context != "prod-admin" {
		t.Errorf("the value itself is kept: context = %q", ws.Forwards[0].Context)
	}
}

func TestSensitiveSettingMustBeBool(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": "variable \"v\" {\n  default   = 1\n  sensitive = \"yes\"\n}\n"})
	_, diags := Load(LoadOptions{Dir: dir})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, "kpf.hcl:3:15: error: Invalid sensitive setting") {
		t.Error(got)
	}
}

// TestOutsideValuesAreNotEchoed: values from --var and KPF_VAR_name never
// appear in diagnostics, whatever is wrong with them.
func TestOutsideValuesAreNotEchoed(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": `
variable "port" {
  type = number
}
variable "labels" {
  type    = map(string)
  default = {}
}
variable "ns" {
  default = "a"
}
forward "f" {
  target      = "svc/a"
  namespace   = var.ns
  local_port  = var.port
  remote_port = 80
}
forward "g" {
  target      = "svc/a"
  local_port  = 8080
  remote_port = 80
}
`})
	tests := []struct {
		name string
		opts LoadOptions
	}{
		{"syntax", LoadOptions{Vars: []string{"port=" + secret + " {"}}},
		{"reference", LoadOptions{Vars: []string{"port=" + strings.ReplaceAll(secret, "-", "_")}}},
		{"type", LoadOptions{Vars: []string{"port=\"" + secret + "\""}}},
		{"map type", LoadOptions{Vars: []string{"port=1", "labels={ " + strings.ReplaceAll(secret, "-", "_") + " = [1] }"}}},
		{"undeclared", LoadOptions{Vars: []string{"port=1", "nope=" + secret}}},
		{"no equals", LoadOptions{Vars: []string{"port=1", secret}}},
		{"bad name", LoadOptions{Vars: []string{"port=1", "hunter2+" + secret + "=1"}}},
		{"env", LoadOptions{Env: envMap(map[string]string{"KPF_VAR_port": secret})}},
		{"env type", LoadOptions{Env: envMap(map[string]string{"KPF_VAR_port": "[\"" + secret + "\"]"})}},
		{"nesting", LoadOptions{Vars: []string{"port=" + strings.Repeat("(", 200) + secret}}},
		{"string used badly", LoadOptions{Vars: []string{"port=1", "ns=" + secret + "!"}}},
		{"string from env used badly", LoadOptions{Vars: []string{"port=1"}, Env: envMap(map[string]string{"KPF_VAR_ns": secret + "!"})}},
		{"port conflict", LoadOptions{Vars: []string{"port=8080", "ns=x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Dir = dir
			out, ws := rendered(t, NewLoader(), tt.opts)
			if ws != nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(out, "error") {
				t.Fatalf("no error: %s", out)
			}
			for _, leak := range []string{secret, strings.ReplaceAll(secret, "-", "_"), "hunter", "127.0.0.1:8080"} {
				if strings.Contains(out, leak) {
					t.Errorf("output shows the value:\n%s", out)
				}
			}
		})
	}
}

func TestSpecFileSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.hcl"), []byte("SECRET-CONTENT = {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{
		"kpf.hcl":         `forward "a" {` + "\n  target = \"svc/a\"\n  remote_port = 80\n}\n",
		"shared.hcl.real": `forward "b" {` + "\n  target = \"svc/b\"\n  remote_port = 80\n}\n",
	})
	if err := os.Symlink(filepath.Join(outside, "secret.hcl"), filepath.Join(dir, "evil.kpf.hcl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("shared.hcl.real", filepath.Join(dir, "shared.kpf.hcl")); err != nil {
		t.Fatal(err)
	}
	out, ws := rendered(t, NewLoader(), LoadOptions{Dir: dir})
	if ws != nil {
		t.Fatal("loaded a spec with a symlink outside the workspace")
	}
	if !strings.Contains(out, "evil.kpf.hcl:1:1: error: Spec file outside the workspace") {
		t.Errorf("no diagnostic at the file:\n%s", out)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("the outside file was read:\n%s", out)
	}
	if err := os.Remove(filepath.Join(dir, "evil.kpf.hcl")); err != nil {
		t.Fatal(err)
	}
	// A link inside the workspace is fine, also through a linked workspace.
	link := filepath.Join(t.TempDir(), "ws")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	ws = mustLoad(t, LoadOptions{Dir: link})
	if len(ws.Forwards) != 2 {
		t.Errorf("forwards = %d, want 2 (one through an inside link)", len(ws.Forwards))
	}
	// A link to .. escapes too.
	if err := os.Symlink("../"+filepath.Base(outside)+"/secret.hcl", filepath.Join(dir, "up.kpf.hcl")); err == nil {
		_, diags := Load(LoadOptions{Dir: dir})
		if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, "up.kpf.hcl:1:1: error: Spec file outside the workspace") {
			t.Errorf("relative link out: %s", got)
		}
	}
}
