//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOutputsFollowAMovedPort: a forward whose port is taken moves, and the
// plan's output changes, kpf output, kpf env (evaluated by a real bash
// that then fetches through the forward) and the env file all say where it
// went; destroy removes the env file.
func TestOutputsFollowAMovedPort(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	wanted := taken.Addr().(*net.TCPAddr).Port
	w.writeSpec("kpf.hcl", fmt.Sprintf(`
kpf {
  env_file = ".env.kpf"
}
forward "api" {
  context     = "kpf-local"
  namespace   = "%%NS%%"
  target      = "deployment/api"
  local_port  = %d
  remote_port = 8080
  open        = "/v1"
}
output "API_URL" {
  value       = forward.api.url
  description = "the API"
}
`, wanted))

	plan := w.mustKpf("plan")
	if !strings.Contains(plan, "Changes to Outputs:") || !strings.Contains(plan, "+ API_URL = \"http://127.0.0.1:") || strings.Contains(plan, fmt.Sprintf("127.0.0.1:%d/v1", wanted)) {
		t.Errorf("plan does not show the output at the moved port:\n%s", plan)
	}
	w.mustKpf("apply")
	got := w.forward("api").LocalPort
	if got == wanted || got == 0 {
		t.Fatalf("api got port %d; want another than the taken %d", got, wanted)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/v1", got)
	if out := w.mustKpf("output", "--raw", "API_URL"); out != url {
		t.Errorf("kpf output --raw API_URL = %q, want %q", out, url)
	}
	if out := w.mustKpf("output"); out != fmt.Sprintf("API_URL = %q\n", url) {
		t.Errorf("kpf output = %q", out)
	}
	env := w.mustKpf("env")
	if !strings.Contains(env, fmt.Sprintf("export KPF_API_PORT='%d'\n", got)) || !strings.Contains(env, "export API_URL='"+url+"'\n") {
		t.Errorf("kpf env:\n%s", env)
	}
	// A real client: bash evaluates kpf env and curl fetches through it.
	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("bash", "-c", `eval "$("$KPF" -C "$WS" env)" && curl -sf --max-time 10 "http://$KPF_API_ADDRESS/"`)
	sh.Env = append(w.env(), "KPF="+bin, "WS="+w.dir)
	body, err := sh.Output()
	if err != nil || !strings.HasPrefix(string(body), "api-") {
		t.Errorf("curl through kpf env's KPF_API_ADDRESS: %q, %v", body, err)
	}
	envFile := filepath.Join(w.dir, ".env.kpf")
	b, err := os.ReadFile(envFile)
	if err != nil || !strings.Contains(string(b), fmt.Sprintf("KPF_API_PORT='%d'\n", got)) || !strings.Contains(string(b), "API_URL='"+url+"'\n") {
		t.Errorf("env file: %v\n%s", err, b)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode: %v, %v", fi, err)
	}
	w.mustKpf("destroy")
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env file after destroy: %v", err)
	}
	if code, _, errOut := w.kpf("output", "API_URL"); code == 0 || !strings.Contains(errOut, "forward.api is not running") {
		t.Errorf("output after destroy: exit %d\n%s", code, errOut)
	}
}

// runSpec has web (applied before kpf run in the tests) and api (started
// by kpf run), and an output over api.
const runSpec = `
defaults {
  context   = "kpf-local"
  namespace = "%NS%"
}
forward "web" {
  target      = "svc/web"
  remote_port = "http"
  health {
    http = "/healthz"
  }
}
forward "api" {
  target      = "deployment/api"
  remote_port = 8080
}
output "API" {
  value = "http://${forward.api.address}/"
}
`

// TestRunRealClient: kpf run brings api up, runs curl through it with
// kpf env's variables and exits with curl's status (0, then 22 for an HTTP
// error); it stops api, which it started, and leaves web, which ran
// before.
func TestRunRealClient(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	w.writeSpec("kpf.hcl", runSpec)
	w.mustKpf("apply", "--only", "web", "--wait")
	web := w.forward("web")

	tests := []struct {
		name string
		path string
		code int
	}{
		{"success", "/", 0},
		{"failure", "/status/503", 22}, // curl -f: an HTTP error
	}
	for _, tt := range tests {
		code, out, errOut := w.kpf("run", "--", "sh", "-c", `curl -sf --max-time 10 "${API%/}`+tt.path+`" && echo " via $KPF_WEB_PORT"`)
		if code != tt.code {
			t.Errorf("%s: kpf run: exit %d, want %d\n%s%s", tt.name, code, tt.code, out, errOut)
		}
		if tt.code == 0 && (!strings.HasPrefix(out, "api-") || !strings.HasSuffix(out, fmt.Sprintf(" via %d\n", web.LocalPort))) {
			t.Errorf("%s: curl through kpf run printed %q", tt.name, out)
		}
		st := w.state()
		if _, ok := st.Forwards["api"]; ok {
			t.Errorf("%s: api, started by kpf run, still in state after it ended", tt.name)
		}
		if f, ok := st.Forwards["web"]; !ok || f.Handle != web.Handle {
			t.Errorf("%s: web, running before kpf run, changed: %+v", tt.name, f)
		}
	}
	if body, err := httpGetOnce(testContext(t), web.LocalPort, "/"); err != nil || !strings.HasPrefix(body, "web-") {
		t.Errorf("web after the runs: %q, %v", body, err)
	}
}

// startRun starts kpf run in the background with CMD and returns it; its
// stdin is not a terminal, so a SIGINT to kpf is passed on to CMD.
func (w *workspace) startRun(stdout *bytes.Buffer, args ...string) *exec.Cmd {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-C", w.dir, "run"}, args...)...)
	cmd.Env = w.env()
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &errb
	// Its own process group, so that a failed test takes the command
	// down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if w.t.Failed() {
			w.t.Logf("kpf run %v stderr:\n%s", args, errb.String())
		}
	})
	return cmd
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	waitUntil(t, 60*time.Second, path+" to exist", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

// waitRun waits for a kpf run started by startRun, killing it (and
// failing the test) if it has not ended within a minute.
func waitRun(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("kpf run %v has not ended within a minute", cmd.Args)
		return nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestRunSIGINTReachesTheCommand: a SIGINT to kpf run reaches its command
// (whose trap exits 42), kpf run exits 42, and the forward it started is
// gone while the one that ran before stays.
func TestRunSIGINTReachesTheCommand(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	w.writeSpec("kpf.hcl", runSpec)
	w.mustKpf("apply", "--only", "web")
	web := w.forward("web")
	marks := t.TempDir()
	var out bytes.Buffer
	run := w.startRun(&out, "--", "bash", "-c",
		`trap 'echo interrupted > "$0/int"; exit 42' INT; echo "$KPF_API_PORT" > "$0/ready"; while :; do sleep 0.1; done`, marks)
	waitFile(t, filepath.Join(marks, "ready"))
	if _, ok := w.state().Forwards["api"]; !ok {
		t.Fatal("api does not run while kpf run's command does")
	}
	if err := run.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := waitRun(t, run)
	if code := exitCode(err); code != 42 {
		t.Errorf("kpf run: exit %d (%v), want the command's 42", code, err)
	}
	if b, err := os.ReadFile(filepath.Join(marks, "int")); err != nil || string(b) != "interrupted\n" {
		t.Errorf("the command's SIGINT trap: %q, %v", b, err)
	}
	st := w.state()
	if _, ok := st.Forwards["api"]; ok {
		t.Error("api, started by kpf run, still in state after SIGINT")
	}
	if f, ok := st.Forwards["web"]; !ok || f.Handle != web.Handle {
		t.Errorf("web, running before, changed: %+v", f)
	}
}

// TestTwoRunsAtOnce: two kpf runs of one workspace; the first starts api,
// the second uses it. The first ending leaves api to the second (it still
// serves), the second ending stops it.
func TestTwoRunsAtOnce(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	w.writeSpec("kpf.hcl", runSpec)
	marks := t.TempDir()
	wait := `touch "$0/$1.ready"; while [ ! -f "$0/$1.go" ]; do sleep 0.1; done; curl -sf --max-time 10 "$API" > "$0/$1.body"`
	var outA, outB bytes.Buffer
	a := w.startRun(&outA, "--only", "api", "--", "sh", "-c", wait, marks, "a")
	waitFile(t, filepath.Join(marks, "a.ready"))
	b := w.startRun(&outB, "--only", "api", "--", "sh", "-c", wait, marks, "b")
	waitFile(t, filepath.Join(marks, "b.ready"))
	api := w.forward("api")

	if err := os.WriteFile(filepath.Join(marks, "a.go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitRun(t, a); err != nil {
		t.Fatalf("first kpf run: %v", err)
	}
	if f, ok := w.state().Forwards["api"]; !ok || f.Handle != api.Handle {
		t.Fatalf("api after the first run ended, while the second uses it: %+v", f)
	}
	if err := os.WriteFile(filepath.Join(marks, "b.go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitRun(t, b); err != nil {
		t.Fatalf("second kpf run: %v", err)
	}
	for _, r := range []string{"a", "b"} {
		if body, err := os.ReadFile(filepath.Join(marks, r+".body")); err != nil || !strings.HasPrefix(string(body), "api-") {
			t.Errorf("run %s fetched %q, %v", r, body, err)
		}
	}
	if _, ok := w.state().Forwards["api"]; ok {
		t.Error("api still runs after both runs ended")
	}
}

// TestApplyWaitNotReady: apply --wait returns once a forward serves, and
// times out, exiting non-zero and naming the forward and why, when its
// pods are not Ready.
func TestApplyWaitNotReady(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	ctx := testContext(t)
	patch := `{"status":{"conditions":[{"type":"Ready","status":"False"}]}}`
	if out, err := testCluster.Kubectl(ctx, "-n", ns, "patch", "pod", "db-0", "--subresource=status", "-p", patch); err != nil {
		t.Fatalf("marking db-0 not Ready: %v: %s", err, out)
	}
	w.writeSpec("kpf.hcl", oneForward("api", "  target = \"deployment/api\"\n  remote_port = 8080\n")+
		oneForward("db", "  target = \"svc/db\"\n  remote_port = 5432\n"))
	if out := w.mustKpf("apply", "--only", "api", "--wait=60s"); !strings.Contains(out, "Every forward serves (1).") {
		t.Errorf("apply --only api --wait:\n%s", out)
	}
	start := time.Now()
	code, out, errOut := w.kpf("apply", "--wait=3s")
	t.Logf("apply --wait=3s returned after %s:\n%s", time.Since(start).Round(time.Millisecond), errOut)
	if code == 0 || !strings.Contains(errOut, "1 forward does not serve within 3s") || !strings.Contains(errOut, "forward.db: ") || strings.Contains(errOut, "forward.api:") {
		t.Errorf("apply --wait=3s with db not Ready: exit %d\n%s%s", code, out, errOut)
	}
	// kpf run gives up the same way, does not run its command and stops
	// what it started.
	w.mustKpf("destroy", "db")
	marker := filepath.Join(t.TempDir(), "ran")
	code, out, errOut = w.kpf("run", "--only", "db", "--wait=2s", "--", "touch", marker)
	if code == 0 || !strings.Contains(errOut, "forward.db: ") {
		t.Errorf("run --wait=2s with db not Ready: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("kpf run ran its command although db does not serve")
	}
	if _, ok := w.state().Forwards["db"]; ok {
		t.Error("kpf run left db, which it started, running after giving up")
	}
	if _, ok := w.state().Forwards["api"]; !ok {
		t.Error("kpf run stopped api, which ran before")
	}
}

// TestWatchKeepsTheEnvFileCurrent: while apply --watch runs, a forward
// moved to another port (by a spec edit) shows in the env file at once.
func TestWatchKeepsTheEnvFileCurrent(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	ports := freeLocalPorts(t, 2)
	spec := func(port int) string {
		return "kpf {\n  env_file = \"app.env\"\n}\n" + oneForward("api", fmt.Sprintf("  target = \"deployment/api\"\n  remote_port = 8080\n  local_port = %d\n", port)) +
			"output \"API\" {\n  value = forward.api.address\n}\n"
	}
	w.writeSpec("kpf.hcl", spec(ports[0]))
	w.watch()
	envFile := filepath.Join(w.dir, "app.env")
	has := func(port int) func() bool {
		return func() bool {
			b, err := os.ReadFile(envFile)
			return err == nil && strings.Contains(string(b), fmt.Sprintf("API='127.0.0.1:%d'\n", port)) &&
				strings.Contains(string(b), fmt.Sprintf("KPF_API_PORT='%d'\n", port))
		}
	}
	waitUntil(t, 30*time.Second, "the env file to name the first port", has(ports[0]))
	w.writeSpec("kpf.hcl", spec(ports[1]))
	waitUntil(t, 60*time.Second, "the env file to follow the forward to its new port", has(ports[1]))
}
