//go:build linux || darwin

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusWithUnknownContext: when the kubeconfig no longer has the
// context the running forwards name, status still shows every forward
// (exit 0, table and JSON), each enabled one with the context error as its
// last error, and one note per forward on stderr.
func TestStatusWithUnknownContext(t *testing.T) {
	dir, c, _, _ := appliedWorkspace(t)
	kc := filepath.Join(c.env["HOME"], ".kube", "config")
	b, err := os.ReadFile(kc)
	must(t, err)
	must(t, os.WriteFile(kc, []byte(strings.ReplaceAll(string(b), "kind-dev", "kind-prod")), 0o600))
	const why = `context "kind-dev" is not in the kubeconfig (did you mean "kind-prod"?`

	code, out, errOut := c.run("-C", dir, "status")
	if code != exitOK || strings.Count(out, "running") != 2 || strings.Count(out, why) != 2 {
		t.Errorf("status: exit %d, want 0, both running with %q:\n%s%s", code, why, out, errOut)
	}
	for _, name := range []string{"api", "web"} {
		if !strings.Contains(errOut, "Note: forward."+name+" cannot be planned: ") {
			t.Errorf("status: no note on %s:\n%s", name, errOut)
		}
	}
	code, out, errOut = c.run("-C", dir, "status", "--json")
	var status struct {
		Forwards []struct {
			Name, State string
			LastError   string `json:"last_error"`
		}
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || code != exitOK {
		t.Fatalf("status --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	for _, f := range status.Forwards {
		if f.Name == "off" { // disabled: its context is not checked
			continue
		}
		if f.State != "running" || !strings.Contains(f.LastError, why) {
			t.Errorf("status --json %s: %+v, want running with %q", f.Name, f, why)
		}
	}
}
