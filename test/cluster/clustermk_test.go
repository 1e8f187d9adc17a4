//go:build unix

package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterDownDestroysTheDemo runs the real `make cluster-down` (with
// stand-ins for bin/kpf and bin/testcluster that record their arguments):
// the demo's forwards are destroyed before the cluster stops, so its agent
// does not keep their ports bound to a cluster that no longer exists;
// "nothing to stop" is not printed; a failing destroy is shown and the
// cluster stops all the same; without bin/kpf only the cluster stops.
func TestClusterDownDestroysTheDemo(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	tests := []struct {
		name      string
		kpf       string // the stand-in's script body; "" for no bin/kpf
		wantCalls []string
		wantOut   string // what make prints from kpf; "" for nothing
	}{
		{"nothing runs", "echo 'No forwards to stop.'", []string{"kpf -C examples/demo destroy", "testcluster down"}, ""},
		{"forwards run", "echo 'forward.web: stopped'", []string{"kpf -C examples/demo destroy", "testcluster down"}, "forward.web: stopped"},
		{"destroy fails", "echo 'Error: broken' >&2; exit 1", []string{"kpf -C examples/demo destroy", "testcluster down"}, "Error: broken"},
		{"no kpf", "", []string{"testcluster down"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			script := func(name, body string) string {
				p := filepath.Join(dir, name)
				src := "#!/bin/sh\necho \"" + name + " $*\" >> " + calls + "\n" + body + "\n"
				if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			}
			tcBin := script("testcluster", "")
			kpf := filepath.Join(dir, "kpf")
			if tc.kpf != "" {
				kpf = script("kpf", tc.kpf)
			}
			// -o: the stand-in is not rebuilt from ./test/cmd/testcluster.
			cmd := exec.Command("make", "-s", "-C", "../..", "-o", tcBin, "TESTCLUSTER="+tcBin, "KPF="+kpf,
				"CLUSTER_STATE="+filepath.Join(dir, "state"), "cluster-down")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make cluster-down: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(calls)
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				got = append(got, strings.TrimSuffix(l, " --state "+filepath.Join(dir, "state")))
			}
			if strings.Join(got, "\n") != strings.Join(tc.wantCalls, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantCalls, "\n"))
			}
			text := strings.ReplaceAll(string(out), tcBin+" down --state "+filepath.Join(dir, "state"), "")
			if strings.TrimSpace(text) != tc.wantOut {
				t.Errorf("make printed %q, want %q", strings.TrimSpace(text), tc.wantOut)
			}
		})
	}
}
