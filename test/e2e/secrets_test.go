//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/test/cluster"
	"github.com/kpf-dev/kpf/test/term"
)

// secretToken and secretAddr are the values of the spec's sensitive
// variables: strings that cannot occur by chance.
const (
	secretToken = "zq7x3kvw"
	secretAddr  = "127.83.41.67"
)

// secretSpec sets every field it can from the sensitive variables: the
// context, namespace, target, address, remote port, health path and open
// path of web; the selector of sel; the target of gone, which does not
// exist (its errors name it).
const secretSpec = `
variable "secret" {
  type      = string
  sensitive = true
  default   = "` + secretToken + `"
}

variable "addr" {
  type      = string
  sensitive = true
  default   = "` + secretAddr + `"
}

defaults {
  context   = "ctx-${var.secret}"
  namespace = "e2e-${var.secret}"
}

forward "web" {
  target      = "service/web-${var.secret}"
  address     = var.addr
  local_port  = %WEB%
  remote_port = "p-${var.secret}"
  open        = "/open-${var.secret}"
  health {
    http = "/hz-${var.secret}"
  }
}

forward "sel" {
  selector    = { kpfsel = var.secret }
  local_port  = %SEL%
  remote_port = 8080
}

forward "gone" {
  target      = "service/gone-${var.secret}"
  local_port  = %GONE%
  remote_port = 80
}
`

// TestSensitiveValuesStaySecret drives every command and view of kpf over a
// spec whose fields come from sensitive variables — validate, plan (human
// and JSON), apply (with a forward that fails), traffic, status (table,
// JSON, --all, --all --json, --stats), logs (with and without -f), the
// live view, destroy — and finds the values in none of their output, nor
// in any file under the state directory but state.json and
// agent-forwards.json.
func TestSensitiveValuesStaySecret(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := "e2e-" + secretToken
	if err := testCluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := testCluster.Kubectl(ctx, "delete", "namespace", ns, "--wait=false"); err != nil {
			t.Logf("deleting namespace %s: %v: %s", ns, err, out)
		}
	})
	if err := testCluster.DeployEcho(ctx, ns, "web", 1); err != nil {
		t.Fatal(err)
	}
	secretWorkloads(t, ns)
	kc := secretKubeconfig(t)
	// One runtime after the other: both use the namespace the spec names.
	t.Run("native", func(t *testing.T) { sensitiveValuesStaySecret(t, nativeWorkspace(t, ns), kc) })
	t.Run("kubectl", func(t *testing.T) { sensitiveValuesStaySecret(t, newWorkspace(t, ns), kc) })
}

// sensitiveValuesStaySecret drives every command and view of w and greps
// what they printed and every file under its state directory.
func sensitiveValuesStaySecret(t *testing.T, w *workspace, kc string) {
	web := testutil.FreePort(t)
	spec := strings.NewReplacer("%WEB%", strconv.Itoa(web), "%SEL%", strconv.Itoa(testutil.FreePort(t)),
		"%GONE%", strconv.Itoa(testutil.FreePort(t))).Replace(secretSpec)
	w.writeSpec("kpf.hcl", spec)

	var seen transcript
	run := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := w.kpf(append([]string{"--kubeconfig", kc}, args...)...)
		seen.add(strings.Join(args, " "), out+errOut)
		if code != wantCode {
			t.Errorf("kpf %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out
	}
	run(0, "validate")
	for _, out := range []string{run(2, "plan", "--detailed-exitcode"), run(0, "plan", "--json")} {
		if !strings.Contains(out, "(sensitive value)") {
			t.Errorf("the plan does not say values are hidden:\n%s", out)
		}
	}
	out := run(1, "--log-level", "debug", "apply") // gone fails; the agent logs at debug
	if !strings.Contains(out, "forward.gone: failed") {
		t.Errorf("apply does not report gone's failure:\n%s", out)
	}
	body := secretTraffic(t, web)
	seen.add("GET web", body)
	run(1, "--log-level", "debug", "apply", "--only", "gone") // the error again, from the state's side too
	// The JSON stream of the same: gone's failure (its error names the
	// secret) as data, redacted.
	jsonOut := run(1, "--log-level", "debug", "apply", "--json")
	if l := findLine(decodeApplyJSON(t, jsonOut), func(l applyLine) bool {
		return l.Type == "action_failed" && l.Action != nil && l.Action.Forward == "gone"
	}); l == nil || !strings.Contains(l.Action.Error, "(sensitive value)") {
		t.Errorf("apply --json does not report gone's failure with the value hidden:\n%s", jsonOut)
	}
	for _, args := range [][]string{
		{"status"}, {"status", "--json"}, {"status", "--all"}, {"status", "--all", "--json"}, {"status", "--stats"},
		{"logs", "web"}, {"logs", "sel"}, {"plan"},
	} {
		run(0, args...)
	}
	if out := run(0, "status"); !strings.Contains(out, "(sensitive value)") {
		t.Errorf("status does not say values are hidden:\n%s", out)
	}
	seen.add("logs -f web", w.kpfFor(3*time.Second, "--kubeconfig", kc, "logs", "-f", "web"))
	seen.add("status --watch", secretLiveView(t, w, kc))
	run(0, "destroy")

	for _, value := range []string{secretToken, secretAddr} {
		if where := seen.find(value); where != "" {
			t.Errorf("the output of %s shows the sensitive value %q", where, value)
		}
		for _, path := range filesHolding(t, w.stateDir, value) {
			if b := filepath.Base(path); b != "state.json" && b != "agent-forwards.json" {
				t.Errorf("%s holds the sensitive value %q", path, value)
			}
		}
	}
	if t.Failed() {
		t.Logf("what kpf printed:\n%s", seen.String())
	}
}

// transcript is what every command printed, by command.
type transcript struct{ parts [][2]string }

func (tr *transcript) add(what, text string) { tr.parts = append(tr.parts, [2]string{what, text}) }

// find names the commands whose output holds value ("" if none).
func (tr *transcript) find(value string) string {
	var where []string
	for _, p := range tr.parts {
		if strings.Contains(p[1], value) {
			where = append(where, "'"+p[0]+"'")
		}
	}
	return strings.Join(where, ", ")
}

func (tr *transcript) String() string {
	var b strings.Builder
	for _, p := range tr.parts {
		fmt.Fprintf(&b, "==> kpf %s\n%s\n", p[0], p[1])
	}
	return b.String()
}

// secretWorkloads adds what the spec names in ns: Service web-SECRET (port
// p-SECRET to the web pods' "http") and the label kpfsel=SECRET on the web
// pods.
func secretWorkloads(t *testing.T, ns string) {
	t.Helper()
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web-%[1]s
  namespace: %[2]s
spec:
  selector:
    app: web
  ports:
  - name: p-%[1]s
    port: 80
    targetPort: http
`, secretToken, ns)
	path := filepath.Join(t.TempDir(), "svc.yaml")
	if err := os.WriteFile(path, []byte(svc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if out, err := testCluster.Kubectl(ctx, "apply", "-f", path); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := testCluster.Kubectl(ctx, "-n", ns, "label", "pods", "-l", "app=web", "kpfsel="+secretToken); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// secretKubeconfig is the test cluster's kubeconfig with one more context,
// ctx-SECRET, the admin context under another name.
func secretKubeconfig(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(testCluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, ok := cfg.Contexts[cluster.ContextName]
	if !ok {
		t.Fatalf("no context %s in the test kubeconfig", cluster.ContextName)
	}
	cfg.Contexts["ctx-"+secretToken] = admin.DeepCopy()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// secretTraffic GETs web's forward (on the sensitive address) until a pod
// answers, so that connection events and pods show in the logs.
func secretTraffic(t *testing.T, port int) string {
	t.Helper()
	url := "http://" + secretAddr + ":" + strconv.Itoa(port) + "/"
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b.String()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("web's forward never answered: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// secretLiveView shows `kpf status --watch` in a terminal until both
// running forwards are on screen, and returns the screen.
func secretLiveView(t *testing.T, w *workspace, kc string) string {
	t.Helper()
	s := w.inTerminal(160, 20, "--kubeconfig", kc, "status", "--watch")
	scr := s.WaitFor("web and sel running", func(scr string) bool {
		return strings.Contains(scr, "web") && strings.Contains(scr, "sel") && strings.Count(scr, "running") >= 2
	})
	s.Keys("q")
	s.WaitFor("kpf exited", term.Contains("EXITED"))
	return scr
}

// kpfFor runs kpf for d, then interrupts it (as Ctrl-C does), and returns
// what it printed.
func (w *workspace) kpfFor(d time.Duration, args ...string) string {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", w.dir}, args...)...)
	cmd.Env = w.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	return out.String()
}

// filesHolding lists the regular files under dir whose content holds value.
func filesHolding(t *testing.T, dir, value string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(value)) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
