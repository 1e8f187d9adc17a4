package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const varsSpec = `
variable "ctx" {
  type    = string
  default = "from-default"
}

variable "port" {
  type    = number
  default = 1000
}

variable "labels" {
  type    = map(string)
  default = { app = "default" }
}

forward "f" {
  selector    = var.labels
  context     = var.ctx
  local_port  = var.port
  remote_port = 80
}
`

func TestVariablePrecedence(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": varsSpec})
	files := t.TempDir()
	varFile := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f1 := varFile("one.hcl", "ctx = \"from-file-1\"\nport = 2001\n")
	f2 := varFile("two.hcl", "ctx = \"from-file-2\"\nlabels = { app = \"file\" }\n")

	tests := []struct {
		name       string
		env        map[string]string
		varFiles   []string
		vars       []string
		wantCtx    string
		wantPort   int
		wantLabels string
	}{
		{"defaults", nil, nil, nil, "from-default", 1000, "default"},
		{"env", map[string]string{"KPF_VAR_ctx": "from-env", "KPF_VAR_port": "3000", "KPF_VAR_labels": `{ app = "env" }`}, nil, nil, "from-env", 3000, "env"},
		{"empty env is unset", map[string]string{"KPF_VAR_ctx": ""}, nil, nil, "from-default", 1000, "default"},
		{"file over env", map[string]string{"KPF_VAR_ctx": "from-env", "KPF_VAR_port": "3000"}, []string{f1}, nil, "from-file-1", 2001, "default"},
		{"later file wins", nil, []string{f1, f2}, nil, "from-file-2", 2001, "file"},
		{"flag over file", map[string]string{"KPF_VAR_ctx": "from-env"}, []string{f1, f2}, []string{"ctx=from-flag"}, "from-flag", 2001, "file"},
		{"last flag wins", nil, nil, []string{"port=1", "port=2", "ctx=a=b"}, "a=b", 2, "default"},
		{"flag map", nil, nil, []string{`labels={ app = "flag" }`}, "from-default", 1000, "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := mustLoad(t, LoadOptions{Dir: dir, Env: envMap(tt.env), VarFiles: tt.varFiles, Vars: tt.vars})
			f := ws.Forwards[0]
			if f.Context != tt.wantCtx || f.LocalPort != tt.wantPort || f.Selector["app"] != tt.wantLabels {
				t.Errorf("got context %q port %d app %q, want %q %d %q", f.Context, f.LocalPort, f.Selector["app"], tt.wantCtx, tt.wantPort, tt.wantLabels)
			}
		})
	}
}

func TestVariableErrors(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": varsSpec + "\nvariable \"needed\" {}\n"})
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte("port = \"eighty\"\nunknown = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badPort := filepath.Join(t.TempDir(), "port.hcl")
	if err := os.WriteFile(badPort, []byte("port = 70000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts LoadOptions
		want []string // substrings of the plain rendering, in order
	}{
		{"required", LoadOptions{}, []string{"kpf.hcl:24:1: error: No value for required variable"}},
		{"env type", LoadOptions{Env: envMap(map[string]string{"KPF_VAR_port": "eighty", "KPF_VAR_needed": "x"})},
			[]string{`<env KPF_VAR_port>:1:1: error: Invalid value for variable: The value of variable "port" is not a valid number: variables not allowed (the value is not shown).`}},
		{"flag type", LoadOptions{Vars: []string{"needed=1", "port=[1]"}},
			[]string{`<flag --var port>:1:1: error: Invalid value for variable: The value of variable "port" is not a number`}},
		{"flag undeclared", LoadOptions{Vars: []string{"needed=1", "nope=1"}},
			[]string{`<flag --var nope>:1:1: error: Value for undeclared variable`}},
		{"flag syntax", LoadOptions{Vars: []string{"needed=1", "noequals"}},
			[]string{`<flag --var #2>:1:1: error: Invalid --var option`}},
		{"file", LoadOptions{Vars: []string{"needed=1"}, VarFiles: []string{bad}},
			[]string{bad + `:1:8: error: Invalid value for variable`, bad + `:2:1: warning: Value for undeclared variable`}},
		{"missing file", LoadOptions{Vars: []string{"needed=1"}, VarFiles: []string{bad + ".nope"}},
			[]string{`error: Cannot read variables file`}},
		// A value that loads as its type but is wrong where it is used is
		// reported where it was given, not at the forward.
		{"flag value wrong where used", LoadOptions{Vars: []string{"needed=1", "port=99999"}},
			[]string{`<flag --var port>:1:1: error: Invalid local port: local_port must be a whole number from 0 to 65535, not (a value from --var or KPF_VAR_name, not shown). This is the value of variable "port", given here, which local_port at kpf.hcl:20:17 uses.`}},
		{"env value wrong where used", LoadOptions{Vars: []string{"needed=1"}, Env: envMap(map[string]string{"KPF_VAR_port": "-1"})},
			[]string{`<env KPF_VAR_port>:1:1: error: Invalid local port: `, `which local_port at kpf.hcl:20:17 uses.`}},
		{"file value wrong where used", LoadOptions{Vars: []string{"needed=1"}, VarFiles: []string{badPort}},
			[]string{badPort + `:1:8: error: Invalid local port: local_port must be a whole number from 0 to 65535, not 70000. This is the value of variable "port", given here, which local_port at kpf.hcl:20:17 uses.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Dir = dir
			l := NewLoader()
			ws, diags := l.Load(tt.opts)
			if ws != nil {
				t.Fatal("got a workspace, want errors")
			}
			got := FormatDiagnosticsPlain(diags)
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("diagnostics lack %q:\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			// Every diagnostic with a range can be rendered with its snippet.
			var b strings.Builder
			if err := l.WriteDiagnostics(&b, diags, false, 0); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.name, "flag") && !strings.Contains(b.String(), "  on <flag --var") {
				t.Errorf("snippet rendering lacks the synthetic source:\n%s", b.String())
			}
		})
	}
}

func TestLocalsAndEnv(t *testing.T) {
	t.Parallel()
	// Declared out of dependency order, across two files.
	dir := writeFiles(t, map[string]string{
		"kpf.hcl": `
locals {
  c = "${local.b}-c"
  a = env("KPF_TEST_NS")
}
forward "f" {
  target      = "svc/${local.c}"
  namespace   = local.a
  remote_port = local.port
  open        = "/${env("UNSET")}"
}
`,
		"more.kpf.hcl": `
locals {
  b    = "${local.a}-b"
  port = strlen(local.c)
}
`,
	})
	ws := mustLoad(t, LoadOptions{Dir: dir, Env: envMap(map[string]string{"KPF_TEST_NS": "ns"})})
	f := ws.Forwards[0]
	if f.Target.Name != "ns-b-c" || f.Namespace != "ns" || f.RemotePort != "6" || f.Open != "/" {
		t.Errorf("got %+v", f)
	}
	// A nil Env is an empty environment: env() returns "".
	_, diags := Load(LoadOptions{Dir: dir})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, `the name "-b-c" is not a valid`) {
		t.Errorf("with no env, want an invalid target from env() = \"\", got:\n%s", got)
	}
}

// TestUndeclaredReference: var.NAME or local.NAME that is not declared says
// so, with the closest declared name, at the reference.
func TestUndeclaredReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr, want string
	}{
		{"abbreviation", "var.ctx", `kpf.hcl:12:20: error: Undeclared variable: variable "ctx" is not declared; did you mean "context"?`},
		{"typo", "var.contxt", `kpf.hcl:12:20: error: Undeclared variable: variable "contxt" is not declared; did you mean "context"?`},
		{"nothing near", "var.cluster", `kpf.hcl:12:20: error: Undeclared variable: variable "cluster" is not declared; declare it in a variable "cluster" block.`},
		{"in a template", `"${var.ctx}-x"`, `kpf.hcl:12:23: error: Undeclared variable: variable "ctx" is not declared; did you mean "context"?`},
		{"local", "local.namespce", `kpf.hcl:12:22: error: Undeclared local value: local value "namespce" is not declared; did you mean "namespace"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": `variable "context" {
  type    = string
  default = "kind-dev"
}

locals {
  namespace = "shop"
}

forward "api" {
  target      = "svc/api"
  context     = ` + tt.expr + `
  remote_port = 80
}
`})
			_, diags := Load(LoadOptions{Dir: dir})
			if got := strings.TrimSpace(FormatDiagnosticsPlain(diags)); got != tt.want {
				t.Errorf("diagnostics:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
