package spec

import (
	"strings"
	"testing"
)

const overrideBase = `
kpf {
  name         = "base"
  max_parallel = 3
}

variable "ctx" {
  default = "base-ctx"
}

locals {
  ns = "base"
}

defaults {
  context   = var.ctx
  namespace = local.ns
  health {
    http     = "/healthz"
    interval = "7s"
  }
}

forward "api" {
  target      = "svc/api"
  local_port  = 8080
  remote_port = 80
  health {
    timeout = "1s"
  }
}

forward "db" {
  selector    = { app = "db" }
  local_port  = 5432
  remote_port = 5432
}
`

func TestOverrideMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		override string
		check    func(t *testing.T, ws *Workspace)
	}{
		{"port and enabled", `
forward "api" { local_port = 18080 }
forward "db" { enabled = false }
`, func(t *testing.T, ws *Workspace) {
			api, db := ws.Forwards[0], ws.Forwards[1]
			if api.LocalPort != 18080 || api.Target.Name != "api" || api.RemotePort != "80" || !api.Enabled {
				t.Errorf("api = %+v", api)
			}
			if db.Enabled || db.LocalPort != 5432 {
				t.Errorf("db = %+v", db)
			}
		}},
		{"kpf defaults variable locals", `
kpf { name = "mine" }
variable "ctx" { default = "my-ctx" }
locals { ns = "mine" }
defaults { address = "::1" }
`, func(t *testing.T, ws *Workspace) {
			api := ws.Forwards[0]
			if ws.Name != "mine" || ws.Settings.MaxParallel != 3 {
				t.Errorf("name %q max_parallel %d", ws.Name, ws.Settings.MaxParallel)
			}
			if api.Context != "my-ctx" || api.Namespace != "mine" || api.Address != "::1" {
				t.Errorf("api = %+v", api)
			}
		}},
		{"target replaces selector", `
forward "db" { target = "sts/db" }
`, func(t *testing.T, ws *Workspace) {
			db := ws.Forwards[1]
			if db.Target.String() != "statefulset/db" || db.Selector != nil {
				t.Errorf("db = %+v", db)
			}
		}},
		{"nested health merges", `
forward "api" {
  health {
    tcp               = true
    failure_threshold = 9
  }
}
defaults {
  health { timeout = "3s" }
}
`, func(t *testing.T, ws *Workspace) {
			h := ws.Forwards[0].Health
			want := Health{Kind: HealthTCP, Interval: 7e9, Timeout: 1e9, FailureThreshold: 9, Declared: true}
			if h != want {
				t.Errorf("api health = %+v, want %+v", h, want)
			}
			h = ws.Forwards[1].Health
			want = Health{Kind: HealthHTTP, HTTPPath: "/healthz", Interval: 7e9, Timeout: 3e9, Declared: true}
			if h != want {
				t.Errorf("db health = %+v, want %+v", h, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": overrideBase, "me.override.kpf.hcl": tt.override})
			tt.check(t, mustLoad(t, LoadOptions{Dir: dir}))
		})
	}
}

func TestOverrideOfNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		base     string
		override string
		want     string
	}{
		{"forward", overrideBase, `forward "ghost" { enabled = false }`,
			`me.override.kpf.hcl:1:1: error: Override of undeclared forward: Forward "ghost" in an override file overrides nothing`},
		{"variable", overrideBase, `variable "nope" { default = 1 }`,
			`me.override.kpf.hcl:1:1: error: Override of undeclared variable: Variable "nope"`},
		{"local", overrideBase, "locals {\n  nope = 1\n}",
			`me.override.kpf.hcl:2:3: error: Override of undeclared local value`},
		{"kpf", `forward "a" {
  target      = "svc/a"
  remote_port = 1
}`, `kpf { name = "x" }`, `me.override.kpf.hcl:1:1: error: Override of undeclared kpf block`},
		{"defaults", `forward "a" {
  target      = "svc/a"
  remote_port = 1
}`, `defaults { context = "x" }`, `me.override.kpf.hcl:1:1: error: Override of undeclared defaults block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": tt.base, "me.override.kpf.hcl": tt.override})
			ws, diags := Load(LoadOptions{Dir: dir})
			if ws != nil {
				t.Fatal("got a workspace, want an error")
			}
			if got := FormatDiagnosticsPlain(diags); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestDuplicateNamesBothPlaces(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"kpf.hcl":   "forward \"api\" {\n  target = \"svc/a\"\n  remote_port = 1\n}\n",
		"b.kpf.hcl": "\n\nforward \"api\" {\n  target = \"svc/b\"\n  remote_port = 1\n}\n",
	})
	_, diags := Load(LoadOptions{Dir: dir})
	// b.kpf.hcl is read first, so the one in kpf.hcl is the duplicate.
	want := "kpf.hcl:1:1: error: Duplicate forward: Forward \"api\" is already declared at b.kpf.hcl:3:1.\n"
	if got := FormatDiagnosticsPlain(diags); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
