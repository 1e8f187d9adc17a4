package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// fakeKubectl is the path of the runtime package's fake kubectl, built once
// for the CLI tests. The real kubectl is exercised by test/e2e.
var fakeKubectl string

func TestMain(m *testing.M) {
	// The test binary is os.Executable() for the kpf under test: it is
	// also the kubectl runtime's log filter (logFilter).
	if len(os.Args) == 3 && os.Args[1] == "kubectl-log-filter" {
		if err := kubectl.ScrubLog(os.Args[2], os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "kpf-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeKubectl = filepath.Join(dir, "kubectl")
	build := exec.Command("go", "build", "-o", fakeKubectl, "../../runtime/kubectl/testdata/fakekubectl")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fake kubectl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs kpf in-process with its own environment.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	home := t.TempDir()
	// A real kubeconfig, read in-process; the fake kubectl never reads it.
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The "API server" accepts connections (apply checks that the cluster
	// answers before it starts forwards) and says nothing.
	apiServer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { apiServer.Close() })
	go func() {
		for {
			c, err := apiServer.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://` + apiServer.Addr().String() + `"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts:
- {name: kind-dev, context: {cluster: c, user: u}}
- {name: other, context: {cluster: c, user: u}}
current-context: kind-dev
`
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, env: map[string]string{
		"KPF_STATE_DIR":     t.TempDir(),
		"KPF_KUBECTL":       fakeKubectl,
		"FAKE_KUBECTL_MODE": "ready",
		"HOME":              home,
	}}
}

// run runs kpf with args; the fake kubectl reads its settings from the
// process environment, so they are exported for the duration of the test.
func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	for k, v := range c.env {
		c.t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(k string) string { return c.env[k] })
	return code, out.String(), errb.String()
}

func writeSpec(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{
			name:     "valid",
			src:      "forward \"api\" {\n  context = \"kind-dev\"\n  target = \"svc/api\"\n  local_port = 8080\n  remote_port = 80\n}\n",
			wantCode: exitOK,
			wantOut:  "The spec is valid: 1 forwards (1 enabled)",
		},
		{
			name:     "bad target gives file:line:col",
			src:      "forward \"api\" {\n  target = \"nonsense\"\n  remote_port = 80\n}\n",
			wantCode: exitError,
			wantErr:  "kpf.hcl:2:",
		},
		{
			name:     "duplicate names both places",
			src:      "forward \"a\" {\n  target = \"svc/a\"\n  remote_port = 80\n}\nforward \"a\" {\n  target = \"svc/b\"\n  remote_port = 80\n}\n",
			wantCode: exitError,
			wantErr:  "kpf.hcl:1:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSpec(t, dir, "kpf.hcl", tt.src)
			code, out, errOut := newCLI(t).run("-C", dir, "validate")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestValidateExamples(t *testing.T) {
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			c := newCLI(t)
			c.env["KUBECONFIG"] = filepath.Join(t.TempDir(), "none") // their contexts are not this machine's
			code, out, errOut := c.run("-C", filepath.Join("../../examples", e.Name()), "validate")
			if code != exitOK || !strings.Contains(out, "contexts not checked: no kubeconfig: no such file") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}

// TestValidateChecksContexts: with a kubeconfig at hand, validate checks
// every enabled forward's context against it (no cluster needed) and
// names each unknown one with its position; a disabled forward's context
// is not checked.
func TestValidateChecksContexts(t *testing.T) {
	fwd := func(name, ctx string, enabled bool) string {
		return fmt.Sprintf("forward %q {\n  context = %q\n  target = \"svc/%s\"\n  remote_port = 80\n  enabled = %v\n}\n", name, ctx, name, enabled)
	}
	tests := []struct {
		name, spec string
		flags      []string
		wantCode   int
		wantOut    string
		wantErr    []string
	}{
		{"known contexts", fwd("api", "kind-dev", true) + fwd("web", "other", true), nil, exitOK,
			"The spec is valid: 2 forwards (2 enabled) in kpf.hcl; contexts checked against the kubeconfig.", nil},
		{"--skip-contexts", fwd("api", "prod", true), []string{"--skip-contexts"}, exitOK,
			"The spec is valid: 1 forwards (1 enabled) in kpf.hcl; contexts not checked: --skip-contexts.", nil},
		{"an unknown context", fwd("api", "prod", true) + fwd("web", "kind-dev", true), nil, exitError, "",
			[]string{`Error: kpf.hcl:1:1: forward "api": context "prod" is not in the kubeconfig (contexts: kind-dev, other)`}},
		{"a typo", fwd("api", "kind-dve", true), nil, exitError, "",
			[]string{`Error: kpf.hcl:1:1: forward "api": context "kind-dve" is not in the kubeconfig (did you mean "kind-dev"?`}},
		{"a disabled forward's context is not checked", fwd("api", "prod", false), nil, exitOK,
			"The spec is valid: 1 forwards (0 enabled) in kpf.hcl; contexts checked against the kubeconfig.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSpec(t, dir, "kpf.hcl", tt.spec)
			code, out, errOut := newCLI(t).run(append([]string{"-C", dir, "validate"}, tt.flags...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", code, tt.wantCode, tt.wantOut, out, errOut)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestFmtCheck(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\ntarget=\"svc/api\"\n  remote_port = 80\n}\n")
	c := newCLI(t)
	if code, out, _ := c.run("-C", dir, "fmt", "--check"); code != exitError || !strings.Contains(out, "kpf.hcl") {
		t.Fatalf("fmt --check on an unformatted file: exit %d, stdout %q; want 1 naming kpf.hcl", code, out)
	}
	if code, _, errOut := c.run("-C", dir, "fmt"); code != exitOK {
		t.Fatalf("fmt: exit %d: %s", code, errOut)
	}
	if code, out, _ := c.run("-C", dir, "fmt", "--check"); code != exitOK {
		t.Fatalf("fmt --check after fmt: exit %d, stdout %q", code, out)
	}
}

func TestInitWritesAValidSpecAndRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	c := newCLI(t)
	if code, _, errOut := c.run("-C", dir, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	if code, out, errOut := c.run("-C", dir, "validate"); code != exitOK {
		t.Fatalf("validate after init: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := c.run("-C", dir, "init"); code != exitError || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second init: exit %d, stderr %q; want a refusal", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := newCLI(t).run("version")
	if code != exitOK || !strings.HasPrefix(out, "kpf ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestUnknownLogLevel(t *testing.T) {
	code, _, errOut := newCLI(t).run("--log-level", "loud", "version")
	if code != exitError || !strings.Contains(errOut, "--log-level") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// TestPlanApplyDestroy drives the whole CLI flow with the fake kubectl:
// plan shows starts, apply starts detached processes, plan then shows no
// changes, and destroy stops them and empties the state.
func TestPlanApplyDestroy(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
kpf {
  runtime = "kubectl"
}
defaults {
  context   = "kind-dev"
  namespace = "shop"
}
forward "api" {
  target      = "service/api"
  local_port  = %d
  remote_port = "http"
  health {
    none = true
  }
}
forward "web" {
  target      = "deployment/web"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
`, p1, p2))
	c := newCLI(t)

	code, out, errOut := c.run("-C", dir, "plan", "--detailed-exitcode")
	if code != exitChanges {
		t.Fatalf("plan: exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"forward.api will be started", "forward.web will be started", "Plan: 2 to start"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = c.run("-C", dir, "apply")
	if code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	for _, port := range []int{p1, p2} {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			t.Fatalf("forward on %d not serving after apply: %v", port, err)
		}
		conn.Close()
	}

	code, out, errOut = c.run("-C", dir, "plan", "--detailed-exitcode")
	if code != exitOK || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan after apply: exit %d, want 0 and No changes.\n%s%s", code, out, errOut)
	}

	code, out, errOut = c.run("-C", dir, "status", "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	var status struct {
		Forwards []map[string]any `json:"forwards"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if rows := status.Forwards; len(rows) != 2 || rows[0]["state"] != "running" || rows[1]["state"] != "running" {
		t.Fatalf("status --json: %d rows, want 2: %s", len(rows), out)
	}

	handles := stateHandles(t, c, dir)
	code, out, errOut = c.run("-C", dir, "destroy")
	if code != exitOK || !strings.Contains(out, "2 stopped") {
		t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
	}
	for name, h := range handles {
		if proc.Alive(procOf(t, h)) {
			t.Errorf("forward %s (pid %d) still alive after destroy", name, procOf(t, h).PID)
		}
	}
	if got := stateHandles(t, c, dir); len(got) != 0 {
		t.Errorf("state still holds %d forwards after destroy", len(got))
	}
}

// TestApplyReportsPermanentFailure: a forward that kubectl refuses for good
// fails without retries, the others start, and the exit code says so.
func TestApplyReportsPermanentFailure(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
forward "api" {
  runtime     = "kubectl"
  context     = "kind-dev"
  target      = "service/api"
  local_port  = %d
  remote_port = 80
}
`, testutil.FreePort(t)))
	c := newCLI(t)
	c.env["FAKE_KUBECTL_MODE"] = "fail"
	c.env["FAKE_KUBECTL_MSG"] = `Error from server (NotFound): services "api" not found`
	code, out, errOut := c.run("-C", dir, "apply")
	if code != exitError {
		t.Fatalf("apply: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, `services "api" not found`) {
		t.Errorf("apply output does not carry kubectl's error:\n%s", out)
	}
	if !strings.Contains(out, "1 attempt") {
		t.Errorf("a permanent error must not be retried:\n%s", out)
	}
}

func TestUnknownContextIsReportedBeforeStarting(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  context = \"nope\"\n  target = \"svc/api\"\n  local_port = 18099\n  remote_port = 80\n}\n"+
		"forward \"web\" {\n  context = \"kind-dev\"\n  target = \"svc/web\"\n  local_port = 18097\n  remote_port = 80\n}\n")
	code, out, errOut := newCLI(t).run("-C", dir, "plan")
	for _, want := range []string{"# forward.api cannot be planned", `(kpf.hcl:1:1: forward "api": context "nope" is not in the kubeconfig`,
		"# forward.web will be started", "Plan: 1 to start, 0 to replace, 0 to restart, 0 to stop. 1 forward cannot be planned."} {
		if code != exitError || !strings.Contains(out, want) {
			t.Fatalf("want exit 1 and %q\nexit %d\nstdout: %s\nstderr: %s", want, code, out, errOut)
		}
	}
}

func TestOnlyRejectsUnknownNames(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  context = \"kind-dev\"\n  target = \"svc/api\"\n  local_port = 18098\n  remote_port = 80\n}\n")
	code, _, errOut := newCLI(t).run("-C", dir, "apply", "--only", "nope")
	if code != exitError || !strings.Contains(errOut, "no forward named nope") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func stateHandles(t *testing.T, c *cli, dir string) map[string]runtime.Handle {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	sdir, err := state.Dir(func(k string) string { return c.env[k] }, abs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(sdir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]runtime.Handle{}
	for name, fw := range f.Forwards {
		out[name] = fw.Handle
	}
	return out
}

func TestForwardURL(t *testing.T) {
	tests := []struct {
		addr string
		port int
		path string
		want string
	}{
		{"127.0.0.1", 8080, "", "http://127.0.0.1:8080/"},
		{"0.0.0.0", 8080, "/swagger/", "http://127.0.0.1:8080/swagger/"},
		{"::1", 9000, "ui", "http://[::1]:9000/ui"},
	}
	for _, tt := range tests {
		if got := model.NewEndpoint(tt.addr, tt.port, tt.path).URL; got != tt.want {
			t.Errorf("NewEndpoint(%q, %d, %q) = %q, want %q", tt.addr, tt.port, tt.path, got, tt.want)
		}
	}
}

// TestSpecFromServices: the spec init --from-cluster writes (golden:
// testdata/init-from-cluster.golden, -update rewrites it) has the comments
// init --help promises, explains each local_port = 0, writes numeric ports
// as numbers, and validates.
func TestSpecFromServices(t *testing.T) {
	src := specFromServices("shop", "kind-dev", "shop", []native.Service{
		{Name: "api", Ports: []native.ServicePort{{Name: "http", Port: 80}, {Name: "grpc", Port: 9090}}},
		{Name: "db", Ports: []native.ServicePort{{Port: 5432}}},
	})
	testutil.Golden(t, "init-from-cluster.golden", src)
	for _, must := range []string{
		"#   kpf plan", // the commands to go on with
		"local_port  = 0 # 80 is privileged (< 1024): kpf picks a free port and keeps it",
		"remote_port = 5432\n", // a number, not "5432"
		`remote_port = "grpc"`, // a name stays a string
		"# service/api port http (80)",
	} {
		if !strings.Contains(string(src), must) {
			t.Errorf("generated spec lacks %q:\n%s", must, src)
		}
	}
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", string(src))
	code, out, errOut := newCLI(t).run("-C", dir, "validate")
	if code != exitOK || !strings.Contains(out, "3 forwards") {
		t.Fatalf("generated spec does not validate: exit %d\n%s\n%s\n%s", code, src, out, errOut)
	}
}

// TestSpecFromServicesQuotesAsHCL: a context name (kubeconfig names are
// free text) that holds what HCL reads as a template or an escape is
// written so that the spec loads with that exact name.
func TestSpecFromServicesQuotesAsHCL(t *testing.T) {
	const kubeContext = `team-${x} %{ if } "q" \ end`
	src := specFromServices("shop", kubeContext, "shop", []native.Service{{Name: "db", Ports: []native.ServicePort{{Port: 5432}}}})
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", string(src))
	ws, diags := spec.Load(spec.LoadOptions{Dir: dir})
	if diags.HasErrors() {
		t.Fatalf("the generated spec does not load: %s\n%s", diags.Error(), src)
	}
	if len(ws.Forwards) != 1 || ws.Forwards[0].Context != kubeContext {
		t.Fatalf("forwards %+v, want one with context %q\n%s", ws.Forwards, kubeContext, src)
	}
}

// TestBadInputLosesNothing: a spec that stops loading and a corrupt state
// file are clear errors; the running forwards and the state file are left
// exactly as they were.
func TestBadInputLosesNothing(t *testing.T) {
	dir := t.TempDir()
	good := fmt.Sprintf("forward \"api\" {\n  runtime = \"kubectl\"\n  context = \"kind-dev\"\n  target = \"svc/api\"\n  local_port = %d\n  remote_port = 80\n  health {\n    none = true\n  }\n}\n", testutil.FreePort(t))
	writeSpec(t, dir, "kpf.hcl", good)
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	before := stateHandles(t, c, dir)["api"]

	writeSpec(t, dir, "kpf.hcl", good+"forward \"broken\" {\n  target = \n")
	code, out, errOut := c.run("-C", dir, "apply")
	if code != exitError || !strings.Contains(errOut, "kpf.hcl:12:12: error") {
		t.Fatalf("apply of a broken spec: exit %d, want 1 with file:line\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if after := stateHandles(t, c, dir)["api"]; after != before || !proc.Alive(procOf(t, after)) {
		t.Fatalf("a broken spec touched the running forward: %+v -> %+v", before, after)
	}

	writeSpec(t, dir, "kpf.hcl", good)
	abs, _ := filepath.Abs(dir)
	sdir, err := state.Dir(func(k string) string { return c.env[k] }, abs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sdir, "state.json")
	garbage := []byte("{\"version\": 1, \"forwards\": {")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"apply"}, {"plan"}, {"status"}, {"destroy"}} {
		code, out, errOut := c.run(append([]string{"-C", dir}, args...)...)
		if code != exitError || !strings.Contains(errOut, path) {
			t.Errorf("kpf %s with a corrupt state file: exit %d, want 1 naming %s\nstdout: %s\nstderr: %s", args[0], code, path, out, errOut)
		}
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, garbage) {
		t.Errorf("the corrupt state file was changed: %q, %v", b, err)
	}
	if !proc.Alive(procOf(t, before)) {
		t.Errorf("a corrupt state file stopped the running forward")
	}
	// Put the state back so that cleanup can stop the forward.
	if err := os.WriteFile(path, mustJSON(t, map[string]any{
		"version": state.Version, "workspace": abs, "name": filepath.Base(abs),
		"forwards": map[string]any{"api": map[string]any{"name": "api", "handle": before}},
	}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStatusStats: --stats adds the probe-cache and timing figures, in the
// table and in the JSON document.
func TestStatusStats(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf("forward \"api\" {\n  context = \"kind-dev\"\n  target = \"svc/api\"\n  local_port = %d\n  remote_port = 80\n}\n", testutil.FreePort(t)))
	c := newCLI(t)
	code, out, errOut := c.run("-C", dir, "status", "--stats")
	if code != exitOK || !strings.Contains(out, "spec load") || !strings.Contains(out, "probe cache") {
		t.Fatalf("status --stats: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = c.run("-C", dir, "status", "--stats", "--json")
	if code != exitOK {
		t.Fatalf("status --stats --json: exit %d\n%s%s", code, out, errOut)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Stats         *struct {
			SpecLoad string `json:"spec_load"`
			Forwards int    `json:"forwards"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Stats == nil || doc.Stats.SpecLoad == "" || doc.Stats.Forwards != 1 {
		t.Fatalf("status --stats --json: %v\n%s", err, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--bogus"}, "Run 'kpf plan --help' for usage"},
		{[]string{"plna"}, `unknown command "plna"`},
		{[]string{"logs"}, "logs needs a forward's name"},
	}
	for _, tt := range tests {
		code, _, errOut := newCLI(t).run(tt.args...)
		// Never 2: plan --detailed-exitcode reserves it for "changes".
		if code != exitError || !strings.Contains(errOut, tt.want) {
			t.Errorf("kpf %v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestVariablesReachThePlan: --var, --var-file and KPF_VAR_ are wired from
// the command line and the environment into the spec, in that precedence.
func TestVariablesReachThePlan(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
variable "context" {
  type    = string
  default = "kind-dev"
}
variable "ns" {
  type    = string
  default = "shop"
}
variable "remote" {
  type    = number
  default = 80
}
forward "api" {
  context     = var.context
  namespace   = var.ns
  target      = "svc/api"
  local_port  = %d
  remote_port = var.remote
}
`, testutil.FreePort(t)))
	varFile := filepath.Join(t.TempDir(), "vars.hcl")
	if err := os.WriteFile(varFile, []byte("ns = \"from-file\"\nremote = 8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	c.env["KPF_VAR_context"] = "other"
	c.env["KPF_VAR_ns"] = "from-env"
	code, out, errOut := c.run("-C", dir, "plan", "--json", "--var-file", varFile, "--var", "remote=9090")
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	var plan struct {
		Changes []struct {
			Context    string `json:"context"`
			Namespace  string `json:"namespace"`
			RemotePort string `json:"remote_port"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Changes) != 1 {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	got := plan.Changes[0]
	if got.Context != "other" || got.Namespace != "from-file" || got.RemotePort != "9090" {
		t.Errorf("plan resolved context %q, namespace %q, remote port %q; want other (env), from-file (var file over env), 9090 (--var over file)",
			got.Context, got.Namespace, got.RemotePort)
	}
}

// procOf is the kubectl process a handle names.
func procOf(t *testing.T, h runtime.Handle) proc.ID {
	t.Helper()
	id, err := kubectl.Process(h)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHTTPEvidence: what makes kpf open offer a forward an http:// URL.
func TestHTTPEvidence(t *testing.T) {
	tests := []struct {
		name string
		fwd  spec.Forward
		want string
	}{
		{"open path", spec.Forward{RemotePort: "5432", Open: "/"}, "open path"},
		{"http health", spec.Forward{RemotePort: "5432", Health: spec.Health{Kind: spec.HealthHTTP, HTTPPath: "/"}}, "HTTP health check"},
		{"named http", spec.Forward{RemotePort: "http"}, "port named http"},
		{"named https-admin", spec.Forward{RemotePort: "https-admin"}, "port named https-admin"},
		{"port 8080", spec.Forward{RemotePort: "8080"}, "port 8080"},
		{"postgres", spec.Forward{RemotePort: "5432"}, ""},
		{"named postgres", spec.Forward{RemotePort: "postgres"}, ""},
		{"tcp health", spec.Forward{RemotePort: "6379", Health: spec.Health{Kind: spec.HealthTCP}}, ""},
	}
	for _, tt := range tests {
		if got := httpEvidence(tt.fwd); got != tt.want {
			t.Errorf("%s: httpEvidence = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestOpenOnlyHTTP: kpf open offers http:// only to a forward that looks
// like HTTP; for another, --print prints its address and says why, and
// opening it in a browser is refused with the same reason.
func TestOpenOnlyHTTP(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	web, db := testutil.FreePort(t), testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`kpf {
  runtime = "kubectl"
}
defaults {
  context   = "kind-dev"
  namespace = "shop"
}
forward "web" {
  target      = "service/web"
  local_port  = %d
  remote_port = 8080
}
forward "db" {
  target      = "service/db"
  local_port  = %d
  remote_port = 5432
}
`, web, db))
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	note := `forward "db" does not look like HTTP (no open path, no HTTP health check, and remote port 5432 is not a usual HTTP port)`
	tests := []struct {
		args             []string
		code             int
		wantOut, wantErr string
	}{
		{[]string{"open", "web", "--print"}, exitOK, fmt.Sprintf("http://127.0.0.1:%d/\n", web), ""},
		{[]string{"open", "db", "--print"}, exitOK, fmt.Sprintf("127.0.0.1:%d\n", db), "Note: " + note + "; printed its address."},
		{[]string{"open", "db"}, exitError, "", note + fmt.Sprintf("; it listens on 127.0.0.1:%d.", db)},
	}
	for _, tt := range tests {
		code, out, errOut := c.run(append([]string{"-C", dir}, tt.args...)...)
		if code != tt.code || out != tt.wantOut || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("kpf %v: exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q", tt.args, code, out, errOut, tt.code, tt.wantOut, tt.wantErr)
		}
	}
}

// An unknown KPF_TRANSPORT, which the agent apply starts would read, is
// refused by apply before anything starts or is written.
func TestApplyRefusesUnknownTransport(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
forward "web" {
  context     = "kind-dev"
  namespace   = "shop"
  target      = "svc/web"
  local_port  = %d
  remote_port = 80
}
`, testutil.FreePort(t)))
	c := newCLI(t)
	c.env["KPF_TRANSPORT"] = "ws"
	code, _, errOut := c.run("-C", dir, "apply")
	if code != exitError || !strings.Contains(errOut, `KPF_TRANSPORT: unknown transport "ws" (auto, spdy or websocket)`) {
		t.Fatalf("apply: exit %d, stderr %q", code, errOut)
	}
	entries, err := os.ReadDir(c.env["KPF_STATE_DIR"])
	if err != nil || len(entries) != 0 {
		t.Errorf("the state directory after a refused apply: %v, %v; want it empty", entries, err)
	}
}
