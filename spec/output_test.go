package spec

import (
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
)

const outputSpec = `
kpf {
  env_file = ".env.kpf"
}
variable "password" {
  type      = string
  default   = "s3cr et"
  sensitive = true
}
locals {
  user = "app"
}
forward "db" {
  target      = "svc/db"
  local_port  = 5432
  remote_port = 5432
}
forward "web" {
  target      = "svc/web"
  address     = "::1"
  remote_port = 80
  open        = "/ui/"
}
output "DATABASE_URL" {
  value       = "postgres://${local.user}@${forward.db.address}/app"
  description = "the database"
}
output "DB_PASSWORD_URL" {
  value = "postgres://${local.user}:${var.password}@${forward.db.address}/app"
}
output "WEB" {
  value = output.web_url
}
output "web_url" {
  value = forward.web.url
}
output "PORTS" {
  value = [forward.db.port, forward.web.port]
}
output "HOST" {
  value = upper(forward.web.host)
}
`

func TestOutputs(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": outputSpec})
	l := NewLoader()
	ws, diags := l.Load(LoadOptions{Dir: dir})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if want := dir + "/.env.kpf"; ws.Settings.EnvFile != want {
		t.Errorf("EnvFile = %q, want %q", ws.Settings.EnvFile, want)
	}
	outs := l.Outputs()
	if got := strings.Join(outs.Names(), ","); got != "DATABASE_URL,DB_PASSWORD_URL,HOST,PORTS,WEB,web_url" {
		t.Errorf("Names = %s", got)
	}
	type want struct {
		text      string
		known     bool
		sensitive bool
		missing   string
	}
	tests := []struct {
		name      string
		endpoints map[string]model.Endpoint
		want      map[string]want
	}{
		{
			name: "both running, db moved",
			endpoints: map[string]model.Endpoint{
				"db":  model.NewEndpoint("127.0.0.1", 5433, ""),
				"web": model.NewEndpoint("::1", 41000, "/ui/"),
			},
			want: map[string]want{
				"DATABASE_URL":    {text: "postgres://app@127.0.0.1:5433/app", known: true},
				"DB_PASSWORD_URL": {text: "postgres://app:s3cr et@127.0.0.1:5433/app", known: true, sensitive: true},
				"WEB":             {text: "http://[::1]:41000/ui/", known: true},
				"web_url":         {text: "http://[::1]:41000/ui/", known: true},
				"PORTS":           {text: "[5433,41000]", known: true},
				"HOST":            {text: "::1", known: true},
			},
		},
		{
			name: "web not running, db port not chosen yet",
			endpoints: map[string]model.Endpoint{
				"db": {Host: "127.0.0.1"},
			},
			want: map[string]want{
				"DATABASE_URL":    {missing: "db"},
				"DB_PASSWORD_URL": {sensitive: true, missing: "db"},
				"WEB":             {missing: "web"},
				"web_url":         {missing: "web"},
				"PORTS":           {missing: "db,web"},
				"HOST":            {missing: "web"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outs.Eval(tt.endpoints)
			if len(got) != len(tt.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(tt.want))
			}
			for _, o := range got {
				w := tt.want[o.Name]
				if o.Text != w.text || o.Known != w.known || o.Sensitive != w.sensitive || strings.Join(o.Missing, ",") != w.missing {
					t.Errorf("%s = %+v, want %+v", o.Name, o, w)
				}
			}
		})
	}
}

func TestOutputErrors(t *testing.T) {
	t.Parallel()
	base := "forward \"db\" {\n  target = \"svc/db\"\n  remote_port = 1\n}\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown forward", `output "x" { value = forward.nope.port }`, "kpf.hcl:5:22: error: Reference to undeclared forward"},
		{"unknown attribute", `output "x" { value = forward.db.pot }`, "kpf.hcl:5:22: error: Unsupported forward attribute"},
		{"unknown output", `output "x" { value = output.y }`, "kpf.hcl:5:22: error: Reference to undeclared output"},
		{"cycle", "output \"x\" { value = output.y }\noutput \"y\" { value = output.x }", "error: Cycle in outputs"},
		{"no value", `output "x" { description = "d" }`, "kpf.hcl:5:1: error: Missing output value"},
		{"unknown function", `output "x" { value = nope(forward.db.port) }`, "kpf.hcl:5:22: error: Call to unknown function"},
		{"type error", `output "x" { value = forward.db.port + "a" }`, "kpf.hcl:5:40: error: Invalid operand"},
		{"duplicate", "output \"x\" { value = 1 }\noutput \"x\" { value = 2 }", "kpf.hcl:6:1: error: Duplicate output"},
		{"env_file hcl", "kpf {\n  env_file = \"kpf.hcl\"\n}", "kpf.hcl:6:14: error: Invalid env_file"},
		{"forward in a local", "locals {\n  p = forward.db.port\n}", "kpf.hcl:6:7: error: Unknown variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": base + tt.src + "\n"})
			_, diags := Load(LoadOptions{Dir: dir})
			got := FormatDiagnosticsPlain(diags)
			if !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant %q", got, tt.want)
			}
			if n := strings.Count(got, "error: "); n != 1 {
				t.Errorf("%d errors, want one:\n%s", n, got)
			}
		})
	}
}
