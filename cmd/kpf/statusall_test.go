package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestStatusAllJSONIsTheStatusSchema: `kpf status --all --json` is
// versioned and lists each workspace's forwards exactly as `kpf status
// --json` does in that workspace (one status schema), with the sensitive
// values redacted the same way.
func TestStatusAllJSONIsTheStatusSchema(t *testing.T) {
	c := newCLI(t)
	var dirs []string
	for i, name := range []string{"one", "two"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
variable "secret" {
  type      = string
  sensitive = true
  default   = "zq7x3kvw-all"
}

forward "api" {
  runtime     = "kubectl"
  context     = "kind-dev"
  target      = "service/svc-${var.secret}"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
`, testutil.FreePort(t)))
		if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
			t.Fatalf("apply %d: exit %d\n%s%s", i, code, out, errOut)
		}
		t.Cleanup(func() { c.run("-C", dir, "destroy") })
		dirs = append(dirs, dir)
	}
	type status struct {
		FormatVersion string           `json:"format_version"`
		Forwards      []map[string]any `json:"forwards"`
	}
	var all struct {
		FormatVersion string `json:"format_version"`
		Workspaces    []struct {
			Workspace string           `json:"workspace"`
			Path      string           `json:"path"`
			Forwards  []map[string]any `json:"forwards"`
		} `json:"workspaces"`
	}
	code, out, errOut := c.run("status", "--all", "--json")
	if code != exitOK {
		t.Fatalf("status --all --json: exit %d\n%s%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("status --all --json: %v\n%s", err, out)
	}
	if len(all.Workspaces) != len(dirs) {
		t.Fatalf("%d workspaces, want %d:\n%s", len(all.Workspaces), len(dirs), out)
	}
	for _, dir := range dirs {
		code, out, errOut := c.run("-C", dir, "status", "--json")
		if code != exitOK {
			t.Fatalf("status --json: exit %d\n%s%s", code, out, errOut)
		}
		var one status
		if err := json.Unmarshal([]byte(out), &one); err != nil {
			t.Fatal(err)
		}
		if all.FormatVersion == "" || all.FormatVersion != one.FormatVersion {
			t.Errorf("format_version %q in --all, %q in status --json", all.FormatVersion, one.FormatVersion)
		}
		abs, _ := filepath.Abs(dir)
		found := false
		for _, ws := range all.Workspaces {
			if ws.Path != abs {
				continue
			}
			found = true
			for _, rows := range [][]map[string]any{ws.Forwards, one.Forwards} {
				for _, r := range rows {
					delete(r, "uptime_seconds") // observed at two moments
					delete(r, "health")         // --all reads no spec: it does not probe
				}
			}
			if ws.Workspace != filepath.Base(dir) || !reflect.DeepEqual(ws.Forwards, one.Forwards) {
				t.Errorf("workspace %s in --all:\n%v %v\nstatus --json there:\n%v", dir, ws.Workspace, ws.Forwards, one.Forwards)
			}
		}
		if !found {
			t.Errorf("workspace %s not in status --all --json:\n%s", abs, out)
		}
	}
}
