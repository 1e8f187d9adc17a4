//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// threeForwards is a workspace over the demo workloads: a service by named
// port, a deployment by number, a statefulset (a server-speaks-first backend).
const threeForwards = `
variable "context" {
  type    = string
  default = "kpf-local"
}

locals {
  ns = "%%NS%%"
}

defaults {
  context   = var.context
  namespace = local.ns
}

forward "web" {
  target      = "svc/web"
  local_port  = %d
  remote_port = "http"
  health {
    http = "/healthz"
  }
}

forward "api" {
  target      = "deployment/api"
  local_port  = %d
  remote_port = 8080
}

forward "db" {
  target      = "sts/db"
  local_port  = %d
  remote_port = 5432
  health {
    none = true
  }
}
`

// oneForward is a spec of one forward on context kpf-local in the test's
// namespace; body holds the target, ports and any other attributes.
func oneForward(name, body string) string {
	return "forward \"" + name + "\" {\n  context   = \"kpf-local\"\n  namespace = \"%NS%\"\n" + body + "}\n"
}

func threeForwardSpec(web, api, db int) string {
	return strings.ReplaceAll(fmt.Sprintf(threeForwards, web, api, db), "%%NS%%", "%NS%")
}

// TestApplyPlanDestroy: apply three forwards and get bytes through each from
// the right pods; plan then says "No changes."; destroy leaves no kubectl
// process of the workspace.
func TestApplyPlanDestroy(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))

	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "Plan: 3 to start") {
		t.Fatalf("plan before apply: exit %d, want 2 and 3 to start\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "kpf-local") {
		t.Errorf("the plan does not show the context each forward resolves to:\n%s", out)
	}

	out = w.mustKpf("apply")
	if !strings.Contains(out, "3 started") {
		t.Errorf("apply summary:\n%s", out)
	}
	if body := httpGetRetry(t, web, "/", 10*time.Second); !strings.HasPrefix(body, "web-") {
		t.Errorf("through forward web: %q, want a web pod's name", body)
	}
	if body := httpGetRetry(t, api, "/", 10*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through forward api: %q, want an api pod's name", body)
	}
	if banner, err := readBanner(testContext(t), db); err != nil || banner != "db-0" {
		t.Errorf("through forward db: %q, %v; want db-0", banner, err)
	}

	w.expectNoChanges("after apply")
	st := w.status()
	for _, name := range []string{"web", "api", "db"} {
		if st[name].State != "running" {
			t.Errorf("status of %s: %+v, want running", name, st[name])
		}
	}
	if st["web"].Health != "healthy" {
		t.Errorf("status of web: health %q, want healthy (an HTTP probe through the forward)", st["web"].Health)
	}

	handles := w.state().Forwards
	w.mustKpf("destroy")
	for name, f := range handles {
		if proc.Alive(procOf(f.Handle)) {
			t.Errorf("forward %s (pid %d) still alive after destroy", name, procOf(f.Handle).PID)
		}
	}
	if pids := kubectlPortForwardsFor(t, ns); len(pids) > 0 {
		t.Errorf("kubectl port-forward processes of this workspace remain after destroy: %v", pids)
	}
	if n := len(w.state().Forwards); n != 0 {
		t.Errorf("state holds %d forwards after destroy", n)
	}
}

// TestWatchRestoresKilledForward: kill -9 one kubectl while watching; kpf
// restarts it and it serves again, on the same port.
func TestWatchRestoresKilledForward(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))
	wt := w.watch()
	httpGetRetry(t, api, "/", 10*time.Second)

	before := w.forward("api")
	killForward(t, before)
	waitUntil(t, 30*time.Second, "forward api restarted", func() bool {
		f := w.state().Forwards["api"]
		return procOf(f.Handle).PID != 0 && procOf(f.Handle).PID != procOf(before.Handle).PID && proc.Alive(procOf(f.Handle))
	})
	if body := httpGetRetry(t, api, "/", 15*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through the restarted forward: %q", body)
	}
	after := w.forward("api")
	if after.LocalPort != before.LocalPort {
		t.Errorf("restart moved the forward from port %d to %d", before.LocalPort, after.LocalPort)
	}
	if after.Restarts < 1 {
		t.Errorf("restarts = %d after a restart", after.Restarts)
	}

	// Ctrl-C stops watching; the forwards keep running.
	wt.stop(t)
	if !strings.Contains(wt.out.String(), "forwards keep running") {
		t.Errorf("watch did not say the forwards keep running:\n%s", wt.out.String())
	}
	for _, name := range []string{"web", "api", "db"} {
		if f := w.forward(name); !proc.Alive(procOf(f.Handle)) {
			t.Errorf("forward %s stopped with the watch", name)
		}
	}
	httpGetRetry(t, api, "/", 5*time.Second)
}

// TestWatchRestartsUnhealthyForward: a forward whose HTTP health check fails
// (the backend answers 503) is restarted with backoff, and never spins.
func TestWatchRestartsUnhealthyForward(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("api", fmt.Sprintf(`  target      = "svc/api"
  local_port  = %d
  remote_port = 8080
  health {
    http              = "/status/503"
    interval          = "1s"
    failure_threshold = 1
  }
`, port)))
	if st := w.status(); st["api"].State != "stopped" {
		t.Fatalf("before apply: %+v", st["api"])
	}
	w.mustKpf("apply")
	if st := w.status(); st["api"].Health != "unhealthy" {
		t.Errorf("status health = %q, want unhealthy (the backend answers 503)", st["api"].Health)
	}
	out := w.mustKpf("plan")
	if !strings.Contains(out, "health check failing") {
		t.Errorf("plan does not restart the unhealthy forward:\n%s", out)
	}

	start := time.Now()
	wt := w.watch()
	waitUntil(t, 60*time.Second, "two health restarts", func() bool { return w.forward("api").Restarts >= 2 })
	w.waitOutput(wt, "health check failing", 5*time.Second)
	// Backoff: 0.5 s, 1 s, 2 s, 4 s, … between restarts. Even a fast machine
	// cannot fit more than a handful into the time elapsed; a spinning loop would.
	elapsed := time.Since(start)
	if r := w.forward("api").Restarts; r > int(elapsed/(400*time.Millisecond))+2 {
		t.Errorf("%d restarts in %s: the watch spins instead of backing off", r, elapsed)
	}
	// The forward still serves between restarts.
	if body := httpGetRetry(t, port, "/", 30*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through the forward: %q", body)
	}
}

// TestWatchFollowsDeletedPod: the pod behind a service forward is deleted
// (its PortForward rule is garbage-collected, kubectl loses the pod and
// exits); watch restores the forward onto the replacement pod.
func TestWatchFollowsDeletedPod(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	api := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("api", fmt.Sprintf(`  target      = "service/api"
  local_port  = %d
  remote_port = 8080
`, api)))
	w.watch()
	old := httpGetRetry(t, api, "/", 10*time.Second)

	ctx := testContext(t)
	if err := testCluster.DeletePod(ctx, ns, old); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.WaitBacked(ctx, ns, "app=api", 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "forward api serves the replacement pod", func() bool {
		body, err := httpGetOnce(ctx, api, "/")
		return err == nil && strings.HasPrefix(body, "api-") && body != old
	})
	// The GET can succeed a moment before the restart is written to state.
	waitUntil(t, 10*time.Second, "the restart recorded in state", func() bool { return w.forward("api").Restarts >= 1 })
}

// TestWatchSurvivesAPIServerRestart: with the API server down every forward
// dies and every restart fails; watch keeps retrying with backoff and
// restores the forwards once the API server is back.
func TestWatchSurvivesAPIServerRestart(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))
	wt := w.watch()
	httpGetRetry(t, web, "/", 10*time.Second)

	ctx := testContext(t)
	if err := testCluster.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = testCluster.StartAPIServer(context.Background())
		}
	})
	w.waitOutput(wt, "failed", 30*time.Second) // restarts fail while it is down
	if err := testCluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if err := testCluster.WaitBacked(ctx, ns, "app=web", 2); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{web, api} {
		httpGetRetry(t, port, "/", 90*time.Second)
	}
	if _, err := readBanner(ctx, db); err != nil {
		waitUntil(t, 30*time.Second, "forward db serves again", func() bool {
			_, err := readBanner(ctx, db)
			return err == nil
		})
	}
}

// TestSelectorForward: a forward that picks a running pod by labels.
func TestSelectorForward(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", oneForward("web", fmt.Sprintf(`  selector    = { app = "web" }
  local_port  = %d
  remote_port = 8080
`, port)))
	out := w.mustKpf("apply")
	if !strings.Contains(out, "1 started") {
		t.Fatalf("apply:\n%s", out)
	}
	if body := httpGetRetry(t, port, "/", 10*time.Second); !strings.HasPrefix(body, "web-") {
		t.Errorf("through the selector forward: %q", body)
	}
	w.expectNoChanges("after apply")
}

// TestLogsOpenStatusAll: the read-only commands against real forwards.
func TestLogsOpenStatusAll(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))
	w.mustKpf("apply")

	if out := w.mustKpf("logs", "web"); !strings.Contains(out, "Forwarding from 127.0.0.1:"+strconv.Itoa(web)) {
		t.Errorf("kpf logs web does not show kubectl's output:\n%s", out)
	}
	if out := strings.TrimSpace(w.mustKpf("open", "web", "--print")); out != fmt.Sprintf("http://127.0.0.1:%d/", web) {
		t.Errorf("kpf open web --print = %q", out)
	}
	out := w.mustKpf("status", "--all")
	for _, name := range []string{"web", "api", "db"} {
		if !strings.Contains(out, name) {
			t.Errorf("status --all lacks forward %s:\n%s", name, out)
		}
	}
	if strings.Count(out, "running") != 3 {
		t.Errorf("status --all should show 3 running forwards:\n%s", out)
	}
	if code, _, errOut := w.kpf("logs", "nope"); code != 1 || !strings.Contains(errOut, `no such forward "nope" in this workspace (its forwards: api, db, web)`) {
		t.Errorf("kpf logs of an unknown forward: exit %d, %q", code, errOut)
	}
}

// TestOnlyAndDestroySubset: apply --only starts just the named forwards;
// destroy NAME stops just those.
func TestOnlyAndDestroySubset(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))

	out := w.mustKpf("apply", "--only", "web", "--only", "db")
	if !strings.Contains(out, "2 started") {
		t.Fatalf("apply --only web --only db:\n%s", out)
	}
	st := w.status()
	if st["web"].State != "running" || st["db"].State != "running" || st["api"].State != "stopped" {
		t.Fatalf("after apply --only: %+v", st)
	}
	if out := w.mustKpf("plan"); !strings.Contains(out, "Plan: 1 to start") || !strings.Contains(out, "forward.api will be started") {
		t.Errorf("plan after apply --only:\n%s", out)
	}

	dbHandle := w.forward("db").Handle
	out = w.mustKpf("destroy", "db")
	if !strings.Contains(out, "forward.db: stopped") || !strings.Contains(out, "1 stopped") {
		t.Errorf("destroy db:\n%s", out)
	}
	if proc.Alive(procOf(dbHandle)) {
		t.Errorf("forward db (pid %d) alive after destroy db", procOf(dbHandle).PID)
	}
	if st := w.status(); st["web"].State != "running" || st["db"].State != "stopped" {
		t.Errorf("after destroy db: %+v", st)
	}
	httpGetRetry(t, web, "/", 5*time.Second)
	if code, _, errOut := w.kpf("destroy", "nope"); code != 1 || !strings.Contains(errOut, "no running forward named nope") {
		t.Errorf("destroy of an unknown forward: exit %d, %q", code, errOut)
	}
}

// TestInitFromCluster: init reads the namespace's services through the API
// and writes a spec that validates and plans; -n defaults to the context's
// namespace; a namespace that does not exist, or has no services, is an
// error and writes nothing.
func TestInitFromCluster(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	w.mustKpf("init", "--from-cluster", "--context", "kpf-local", "--namespace", ns)
	out := w.mustKpf("validate")
	if !strings.Contains(out, "3 forwards") {
		t.Fatalf("validate after init --from-cluster:\n%s", out)
	}
	out = w.mustKpf("plan")
	for _, want := range []string{"forward.web will be started", "forward.api will be started", "forward.db will be started"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}

	// A context whose namespace is ns, in a second kubeconfig file merged
	// after the cluster's (KUBECONFIG=a:b, as kubectl merges them).
	extra := filepath.Join(t.TempDir(), "ns-context")
	if err := os.WriteFile(extra, []byte(`apiVersion: v1
kind: Config
contexts:
- name: kpf-ns
  context: {cluster: kpf-local, user: kpf-local-admin, namespace: `+ns+`}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := newEmptyNamespace(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" when init must succeed
		wantOut string // what the written kpf.hcl must have
	}{
		{name: "namespace from the context", args: []string{"--context", "kpf-ns"}, wantOut: `namespace = "` + ns + `"`},
		{name: "no such namespace", args: []string{"--context", "kpf-local", "-n", "nope"}, wantErr: `namespace "nope" does not exist in context "kpf-local"; nothing written`},
		{name: "no services", args: []string{"--context", "kpf-local", "-n", empty}, wantErr: `namespace "` + empty + `" of context "kpf-local" has no services with a TCP port; nothing written`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin, err := kpfBinary()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, append([]string{"-C", dir, "init", "--from-cluster"}, tt.args...)...)
			cmd.Env = append(w.env(), "KUBECONFIG="+testCluster.Kubeconfig+string(os.PathListSeparator)+extra)
			out, err := cmd.CombinedOutput()
			written, readErr := os.ReadFile(filepath.Join(dir, "kpf.hcl"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(string(out), tt.wantErr) {
					t.Errorf("init %v: %v, output %q; want a failure saying %q", tt.args, err, out, tt.wantErr)
				}
				if readErr == nil {
					t.Errorf("init %v failed but wrote kpf.hcl:\n%s", tt.args, written)
				}
				return
			}
			if err != nil || !strings.Contains(string(written), tt.wantOut) {
				t.Errorf("init %v: %v, output %q; kpf.hcl lacks %q:\n%s", tt.args, err, out, tt.wantOut, written)
			}
		})
	}
}

// TestPortConflictMovesForward: a program that is not kpf holds the port a
// forward asks for; plan shows the move and apply serves on the new port.
func TestPortConflictMovesForward(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	taken := occupyLocalPort(t)
	w.writeSpec("kpf.hcl", oneForward("api", fmt.Sprintf(`  target      = "svc/api"
  local_port  = %d
  remote_port = 8080
`, taken)))
	out := w.mustKpf("plan")
	if !strings.Contains(out, "in use") || !strings.Contains(out, strconv.Itoa(taken)) {
		t.Fatalf("plan does not show the port move:\n%s", out)
	}
	var plan struct {
		Changes []struct {
			Name     string `json:"name"`
			Port     int    `json:"local_port"`
			PortMove *struct {
				Wanted int `json:"wanted"`
				Got    int `json:"got"`
			} `json:"port_move"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(w.mustKpf("plan", "--json")), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].PortMove == nil || plan.Changes[0].PortMove.Wanted != taken {
		t.Fatalf("plan --json: %+v", plan)
	}
	moved := plan.Changes[0].PortMove.Got
	w.mustKpf("apply")
	if got := w.forward("api").LocalPort; got != moved {
		t.Errorf("apply used port %d, the plan said %d", got, moved)
	}
	if body := httpGetRetry(t, moved, "/", 10*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through the moved forward: %q", body)
	}
	w.expectNoChanges("after apply (the moved port is sticky)")
}

// TestWatchFollowsSpecEdits: an edit that adds a forward is applied; an
// edit that does not parse is reported and changes nothing.
func TestWatchFollowsSpecEdits(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api := testutil.FreePort(t), testutil.FreePort(t)
	one := fmt.Sprintf(`
defaults {
  context   = "kpf-local"
  namespace = "%%NS%%"
}
forward "web" {
  target      = "svc/web"
  local_port  = %d
  remote_port = "http"
}
`, web)
	w.writeSpec("kpf.hcl", one)
	wt := w.watch()
	httpGetRetry(t, web, "/", 10*time.Second)
	webPID := procOf(w.forward("web").Handle).PID

	w.writeSpec("kpf.hcl", one+fmt.Sprintf(`
forward "api" {
  target      = "deployments.apps/api"
  local_port  = %d
  remote_port = 8080
}
`, api))
	if body := httpGetRetry(t, api, "/", 30*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("through the forward added by the edit: %q", body)
	}

	w.writeSpec("kpf.hcl", one+"forward \"broken\" {\n  target = \n")
	w.waitOutput(wt, "the spec has errors", 15*time.Second)
	time.Sleep(2 * time.Second) // a few passes with the broken spec
	if f := w.forward("web"); procOf(f.Handle).PID != webPID || !proc.Alive(procOf(f.Handle)) {
		t.Errorf("a broken edit touched forward web: pid %d -> %d", webPID, procOf(f.Handle).PID)
	}
	if _, ok := w.state().Forwards["api"]; !ok {
		t.Errorf("a broken edit removed forward api")
	}
	httpGetRetry(t, api, "/", 5*time.Second)
	if n := strings.Count(wt.out.String(), "Invalid expression"); n != 1 {
		t.Errorf("the broken spec's diagnostic was shown %d times, want once", n)
	}

	// Fixing the spec (dropping api) is followed again.
	w.writeSpec("kpf.hcl", one)
	w.waitOutput(wt, "The spec loads again.", 15*time.Second)
	waitUntil(t, 15*time.Second, "forward api stopped", func() bool {
		_, ok := w.state().Forwards["api"]
		return !ok
	})
}

// TestConcurrentApplies: two applies at once; each waits for the workspace
// lock or fails cleanly naming the holder, and the state stays valid.
func TestConcurrentApplies(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", threeForwardSpec(web, api, db))

	results := w.kpfAtOnce(2, "apply")
	for i, r := range results {
		if r.code != 0 && !strings.Contains(r.errOut, "locked by kpf (pid") {
			t.Errorf("apply %d: exit %d without a lock message\n%s%s", i, r.code, r.out, r.errOut)
		}
	}
	if results[0].code != 0 && results[1].code != 0 {
		t.Fatalf("both applies failed:\n%+v", results)
	}
	if n := len(w.state().Forwards); n != 3 {
		t.Errorf("state holds %d forwards, want 3", n)
	}
	w.expectNoChanges("after two applies")
	if pids := kubectlPortForwardsFor(t, ns); len(pids) != 3 {
		t.Errorf("%d kubectl port-forward processes for 3 forwards: %v", len(pids), pids)
	}
}

// TestForbiddenIsPermanent: a context whose user may not port-forward in the
// namespace fails at once with kubectl's "forbidden", without retries, and
// leaves the state valid.
func TestForbiddenIsPermanent(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "api" {
  context     = "kpf-local-limited"
  namespace   = "%%NS%%"
  target      = "svc/api"
  local_port  = %d
  remote_port = 8080
}
`, testutil.FreePort(t)))
	code, out, errOut := w.kpf("apply")
	if code != 1 {
		t.Fatalf("apply: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(strings.ToLower(out), "forbidden") || !strings.Contains(out, "1 attempt") {
		t.Errorf("apply should report kubectl's forbidden after 1 attempt:\n%s", out)
	}
	if f, ok := w.state().Forwards["api"]; ok && !f.Handle.IsZero() {
		t.Errorf("a failed forward has a process in the state: %+v", f)
	}
}
