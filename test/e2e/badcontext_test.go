//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestUnknownContextStopsOnlyItsForward: one forward whose context is not
// in the kubeconfig (web, running, edited to context "prod") stops neither
// the plan nor the others. validate names it; plan shows it as an error
// beside the new forward api it plans (human and JSON) and exits 1; apply
// starts api, leaves web running as it was and exits 1; status shows every
// forward, exit 0, web with the error.
func TestUnknownContextStopsOnlyItsForward(t *testing.T) {
	t.Parallel()
	w := nativeWorkspace(t, newNamespace(t))
	webPort, apiPort := testutil.FreePort(t), testutil.FreePort(t)
	web := func(kubeContext string) string {
		return fmt.Sprintf("forward \"web\" {\n  context = %q\n  namespace = \"%%NS%%\"\n  target = \"service/web\"\n  local_port = %d\n  remote_port = \"http\"\n}\n", kubeContext, webPort)
	}
	w.writeSpec("kpf.hcl", web("kpf-local"))
	w.mustKpf("apply")
	webHandle := w.forward("web").Handle

	w.writeSpec("kpf.hcl", web("prod")+oneForward("api", fmt.Sprintf("  target = \"deployment/api\"\n  local_port = %d\n  remote_port = 8080\n", apiPort)))
	const unknown = `forward "web": context "prod" is not in the kubeconfig (contexts: kpf-local, kpf-local-limited)`

	code, out, errOut := w.kpf("validate")
	if code != 1 || !strings.Contains(errOut, "kpf.hcl:1:1: "+unknown) {
		t.Errorf("kpf validate: exit %d, want 1 and %q:\n%s%s", code, unknown, out, errOut)
	}

	code, out, errOut = w.kpf("plan")
	for _, want := range []string{"# forward.api will be started", "# forward.web cannot be planned", unknown,
		"Plan: 1 to start, 0 to replace, 0 to restart, 0 to stop. 1 forward cannot be planned."} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("kpf plan: exit %d, want 1 and %q:\n%s%s", code, want, out, errOut)
		}
	}
	code, out, errOut = w.kpf("plan", "--json")
	var plan struct {
		FormatVersion string `json:"format_version"`
		Changes       []struct{ Name, Action string }
		Errors        []struct{ Name, Error string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("kpf plan --json (exit %d): %v\n%s%s", code, err, out, errOut)
	}
	if code != 1 || plan.FormatVersion != "1.1" || len(plan.Changes) != 1 || plan.Changes[0].Name != "api" || plan.Changes[0].Action != "start" ||
		len(plan.Errors) != 1 || plan.Errors[0].Name != "web" || !strings.Contains(plan.Errors[0].Error, unknown) {
		t.Errorf("kpf plan --json: exit %d, want 1, api to start and web's error:\n%s", code, out)
	}

	code, out, errOut = w.kpf("apply")
	if code != 1 || !strings.Contains(out, "Apply finished with errors: 1 started, 0 replaced, 0 restarted, 0 stopped, 0 failed, 1 not planned.") {
		t.Fatalf("kpf apply: exit %d, want 1, api started and web not planned:\n%s%s", code, out, errOut)
	}
	if pod := httpGetRetry(t, apiPort, "/", 30*time.Second); !strings.HasPrefix(pod, "api-") {
		t.Errorf("GET through api reached %q, want an api pod", pod)
	}
	if h := w.forward("web").Handle; h != webHandle {
		t.Errorf("web's handle changed from %v to %v: the forward that cannot be planned was touched", webHandle, h)
	}
	if pod := httpGetRetry(t, webPort, "/", 30*time.Second); !strings.HasPrefix(pod, "web-") {
		t.Errorf("GET through web reached %q, want a web pod (still running as before)", pod)
	}

	code, out, errOut = w.kpf("status")
	if code != 0 || !strings.Contains(errOut, "forward.web cannot be planned") {
		t.Errorf("kpf status: exit %d, want 0 and a note on web:\n%s%s", code, out, errOut)
	}
	rows := w.status()
	if rows["api"].State != "running" || rows["web"].State != "running" || !strings.Contains(rows["web"].LastError, unknown) {
		t.Errorf("kpf status --json: api %+v, web %+v; want both running, web with the context error", rows["api"], rows["web"])
	}

	// `apply --watch` runs too, and follows an edit that adds a forward,
	// still leaving web as it runs.
	wt := w.watch()
	dbPort := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", web("prod")+oneForward("api", fmt.Sprintf("  target = \"deployment/api\"\n  local_port = %d\n  remote_port = 8080\n", apiPort))+
		oneForward("db", fmt.Sprintf("  target = \"statefulset/db\"\n  local_port = %d\n  remote_port = 5432\n", dbPort)))
	w.waitOutput(wt, fmt.Sprintf("forward.db: started on 127.0.0.1:%d", dbPort), time.Minute)
	// Ctrl-C; like apply, the watch exits 1: a forward could not be planned.
	_ = wt.cmd.Process.Signal(os.Interrupt)
	select {
	case <-wt.done:
	case <-time.After(20 * time.Second):
		t.Fatal("kpf apply --watch did not stop within 20 s of SIGINT")
	}
	if h := w.forward("web").Handle; h != webHandle {
		t.Errorf("web's handle changed under the watch from %v to %v", webHandle, h)
	}
	if strings.Contains(wt.out.String(), "forward.web: stopped") {
		t.Errorf("the watch stopped web:\n%s", wt.out.String())
	}
}
