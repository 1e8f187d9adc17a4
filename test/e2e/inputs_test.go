//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestStatusWithoutKubeconfig: a native forward applied against the real
// cluster keeps serving when the kubeconfig is gone or unreadable, and
// `kpf status` (the real binary) says so from the state alone, with one
// line on stderr; destroy then works without a kubeconfig as well.
func TestStatusWithoutKubeconfig(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("web", fmt.Sprintf("  target      = \"svc/web\"\n  local_port  = %d\n  remote_port = \"http\"\n", port)))
	w.mustKpf("apply")
	httpGetRetry(t, port, "/", 10*time.Second)

	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.WriteFile(broken, []byte("{{{ not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kubeconfig, why string
	}{
		{"missing", filepath.Join(t.TempDir(), "gone"), "no kubeconfig: no such file"},
		{"unreadable", broken, "the kubeconfig cannot be read"},
	}
	for _, tc := range tests {
		code, out, errOut := w.kpfWithKubeconfig(tc.kubeconfig, "status")
		note := strings.TrimSpace(errOut)
		if code != 0 || strings.Contains(note, "\n") || !strings.Contains(note, tc.why) {
			t.Errorf("%s: status: exit %d, want 0 and one line saying %q\nstdout:\n%s\nstderr:\n%s", tc.name, code, tc.why, out, errOut)
		}
		if !strings.Contains(out, "web") || !strings.Contains(out, "running") {
			t.Errorf("%s: status does not show web running:\n%s", tc.name, out)
		}
		httpGetRetry(t, port, "/", 10*time.Second)
	}
	code, out, errOut := w.kpfWithKubeconfig(tests[0].kubeconfig, "destroy")
	if code != 0 || !strings.Contains(out, "1 stopped") {
		t.Fatalf("destroy without a kubeconfig: exit %d\n%s%s", code, out, errOut)
	}
}

// kpfWithKubeconfig is kpf with KUBECONFIG set to path instead of the
// test cluster's.
func (w *workspace) kpfWithKubeconfig(path string, args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	var env []string
	for _, kv := range w.env() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd := exec.CommandContext(testContext(w.t), bin, append([]string{"-C", w.dir}, args...)...)
	cmd.Env = append(env, "KUBECONFIG="+path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	var ee *exec.ExitError
	if err := cmd.Run(); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("running kpf %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}
