//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLockHeldByWatchSaysHowToProceed: beside a running `kpf apply
// --watch`, `kpf destroy web` and `kpf apply` fail without waiting for the
// lock, and say that it is this workspace's own watch (its pid) and how to
// proceed: quit it, or let the watch do it. Doing as told works: the watch
// stops web once the spec disables it, and destroy goes through once the
// watch is quit.
func TestLockHeldByWatchSaysHowToProceed(t *testing.T) {
	t.Parallel()
	w := nativeWorkspace(t, newNamespace(t))
	spec := func(webEnabled bool) {
		w.writeSpec("kpf.hcl", oneForward("web", fmt.Sprintf("  target = \"service/web\"\n  remote_port = \"http\"\n  enabled = %v\n", webEnabled))+
			oneForward("api", "  target = \"deployment/api\"\n  remote_port = 8080\n"))
	}
	spec(true)
	wt := w.watch()
	pid := wt.cmd.Process.Pid

	for _, args := range [][]string{{"destroy", "web"}, {"apply"}} {
		code, out, errOut := w.kpf(args...)
		for _, want := range []string{
			fmt.Sprintf("workspace is locked by kpf apply --watch (pid %d)", pid),
			fmt.Sprintf("This workspace's own `kpf apply --watch` (pid %d) holds the lock", pid),
			"Quit it (q, or Ctrl-C where it runs; its forwards keep running) and run this again",
			"enabled = false stops a forward",
		} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("kpf %s beside the watch: exit %d, want 1 and %q:\n%s%s", strings.Join(args, " "), code, want, out, errOut)
			}
		}
	}

	spec(false)
	w.waitOutput(wt, "forward.web: stopped", time.Minute)
	wt.stop(t)
	if code, out, errOut := w.kpf("destroy", "api"); code != 0 || !strings.Contains(out, "Destroy complete: 1 stopped.") {
		t.Errorf("kpf destroy api after quitting the watch: exit %d:\n%s%s", code, out, errOut)
	}
}
