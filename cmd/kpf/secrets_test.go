package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestSensitiveValuesInEveryView: a forward whose target, namespace and
// address came from a sensitive variable fails with kubectl's error naming
// them; no command shows them — apply's error lines, status (table, JSON,
// --all, --all --json) with its LAST ERROR, logs, plan — and an unknown
// sensitive context is not named in the error either. (The end-to-end
// test TestSensitiveValuesStaySecret does the same against a real
// cluster with the native runtime.)
func TestSensitiveValuesInEveryView(t *testing.T) {
	const secret = "zq7x3kvw-cmd"
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
variable "secret" {
  type      = string
  sensitive = true
  default   = %q
}

forward "api" {
  runtime     = "kubectl"
  context     = "kind-dev"
  namespace   = "ns-${var.secret}"
  target      = "service/svc-${var.secret}"
  local_port  = %d
  remote_port = 80
}
`, secret, testutil.FreePort(t)))
	c := newCLI(t)
	c.env["FAKE_KUBECTL_MODE"] = "fail"
	c.env["FAKE_KUBECTL_MSG"] = `Error from server (NotFound): services "svc-` + secret + `" not found in namespace ns-` + secret
	tests := []struct {
		args     []string
		code     int
		redacted bool // the output says a value is hidden
	}{
		{[]string{"plan"}, 0, true},
		{[]string{"plan", "--json"}, 0, true},
		{[]string{"--log-level", "trace", "apply"}, exitError, true},
		{[]string{"status"}, 0, true},
		{[]string{"status", "--json"}, 0, true},
		{[]string{"status", "--all"}, 0, true},
		{[]string{"status", "--all", "--json"}, 0, true},
		{[]string{"logs", "api"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := c.run(append([]string{"-C", dir}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("shows the sensitive value:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
			if tt.redacted && !strings.Contains(out+errOut, "(sensitive value)") {
				t.Errorf("does not say a value is hidden:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}

	// A sensitive context the kubeconfig does not have.
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
variable "secret" {
  type      = string
  sensitive = true
  default   = %q
}

forward "api" {
  context     = "ctx-${var.secret}"
  target      = "service/api"
  local_port  = %d
  remote_port = 80
}
`, secret, testutil.FreePort(t)))
	code, out, errOut := c.run("-C", dir, "plan")
	if code != exitError || strings.Contains(out+errOut, secret) {
		t.Errorf("plan with an unknown sensitive context: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
