//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestUnreachableClusterFailsFastAndQuietly: with a kubeconfig whose
// server is a closed port, apply says once, on one line naming the
// context's forwards, that the cluster is unreachable and why, retries
// nothing and logs no attempt by default; status shows each forward failed
// with that error, and destroy counts none of them as stopped.
func TestUnreachableClusterFailsFastAndQuietly(t *testing.T) {
	t.Parallel()
	w := nativeWorkspace(t, newEmptyNamespace(t))
	closed := testutil.FreePort(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	server := fmt.Sprintf("https://127.0.0.1:%d", closed)
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "`+server+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: kpf-local, context: {cluster: gone, user: u}}]
current-context: kpf-local
`), 0o600); err != nil {
		t.Fatal(err)
	}
	w.writeSpec("kpf.hcl", oneForward("web", "  target = \"service/web\"\n  remote_port = \"http\"\n")+
		oneForward("api", "  target = \"deployment/api\"\n  remote_port = 8080\n"))

	code, out, errOut := w.kpf("--kubeconfig", kc, "apply")
	line := "forward.api, forward.web: not applied: cluster kpf-local at " + server + " is unreachable: connection refused"
	if code != 1 || strings.Count(out, "is unreachable") != 1 || !strings.Contains(out, line+"\n") ||
		!strings.Contains(out, "Apply finished with errors: 0 started, 0 replaced, 0 restarted, 0 stopped, 2 failed.") {
		t.Errorf("kpf apply: exit %d, want 1 and the one line %q:\n%s%s", code, line, out, errOut)
	}
	if strings.Contains(errOut, "attempt failed") || strings.Contains(out, "attempts") {
		t.Errorf("kpf apply retried, or logged its attempts by default:\n%s%s", out, errOut)
	}

	rows := w.statusWith("--kubeconfig", kc)
	for _, name := range []string{"api", "web"} {
		if r := rows[name]; r.State != "failed" || !strings.Contains(r.LastError, "cluster kpf-local at "+server+" is unreachable: connection refused") {
			t.Errorf("status of %s: %+v; want failed, the cluster unreachable", name, r)
		}
	}

	code, out, errOut = w.kpf("--kubeconfig", kc, "destroy")
	if code != 0 || !strings.Contains(out, "Destroy complete: 0 stopped, 2 removed that never started.") {
		t.Errorf("kpf destroy: exit %d, want 0 and nothing counted as stopped:\n%s%s", code, out, errOut)
	}
}

// statusWith is status() with global flags before `status --json`.
func (w *workspace) statusWith(flags ...string) map[string]statusRow {
	w.t.Helper()
	out := w.mustKpf(append(flags, "status", "--json")...)
	var status struct {
		Forwards []statusRow `json:"forwards"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		w.t.Fatalf("kpf status --json: %v\n%s", err, out)
	}
	m := make(map[string]statusRow, len(status.Forwards))
	for _, r := range status.Forwards {
		m[r.Name] = r
	}
	return m
}
