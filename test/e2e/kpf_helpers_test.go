//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/internal/testwait"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/state"
)

// kpfBinDir holds the kpf binary built for this run; TestMain removes it.
var kpfBinDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "kpf-e2e-bin") })

// removeKPFBinary removes the binary built for this run, if any.
func removeKPFBinary() {
	if dir, err := kpfBinDir(); err == nil {
		os.RemoveAll(dir)
	}
}

// kpfBinary builds ./cmd/kpf once per test run.
var kpfBinary = sync.OnceValues(func() (string, error) {
	dir, err := kpfBinDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kpf")
	args := []string{"build", "-o", bin}
	// Without cgo, as the release build (.goreleaser.yaml): the e2e suite
	// tests the binary users install. The race detector needs cgo.
	env := append(os.Environ(), "CGO_ENABLED=0")
	if os.Getenv("KPF_E2E_RACE") == "1" { // kpf built with the race detector
		args = append(args, "-race")
		env = os.Environ()
	}
	cmd := exec.Command("go", append(args, "github.com/kpf-dev/kpf/cmd/kpf")...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building kpf: %w: %s", err, out)
	}
	return bin, nil
})

// workspace is a kpf workspace of one test: its spec directory and its own
// state directory, pointed at the test cluster.
type workspace struct {
	t        *testing.T
	dir      string
	stateDir string
	ns       string
	// runtime is written into the spec's kpf block ("" = kpf's default,
	// native).
	runtime string
	// extraEnv is added to kpf's environment (e.g. KPF_HOSTS_FILE).
	extraEnv []string
}

// newWorkspace is a workspace whose forwards run as kubectl processes
// (runtime = "kubectl"): the tests of that runtime.
func newWorkspace(t *testing.T, ns string) *workspace {
	return newWorkspaceWith(t, ns, "kubectl")
}

// newWorkspaceWith is a workspace of the given runtime ("" = the default).
func newWorkspaceWith(t *testing.T, ns, rt string) *workspace {
	t.Helper()
	w := &workspace{t: t, dir: t.TempDir(), stateDir: t.TempDir(), ns: ns, runtime: rt}
	t.Cleanup(func() {
		// Whatever the test did, leave no forward process behind.
		code, out, errOut := w.kpf("destroy")
		if code != 0 {
			t.Logf("cleanup: kpf destroy: exit %d\n%s%s", code, out, errOut)
		}
	})
	return w
}

// writeSpec writes kpf.hcl; %NS% in src is replaced by the test's namespace,
// and a kpf block naming the workspace's runtime is added to kpf.hcl.
func (w *workspace) writeSpec(name, src string) {
	w.t.Helper()
	src = strings.ReplaceAll(src, "%NS%", w.ns)
	if w.runtime != "" && name == "kpf.hcl" && !strings.Contains(src, "kpf {") {
		src = "kpf {\n  runtime = \"" + w.runtime + "\"\n}\n\n" + src
	}
	tmp := filepath.Join(w.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, name)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) env() []string {
	return append(append(os.Environ(),
		"KUBECONFIG="+testCluster.Kubeconfig,
		"KPF_STATE_DIR="+w.stateDir,
		"NO_COLOR=1",
	), w.extraEnv...)
}

// kpf runs the kpf binary in the workspace and returns its exit code and output.
func (w *workspace) kpf(args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", w.dir}, args...)...)
	cmd.Env = w.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		w.t.Fatalf("running kpf %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// mustKpf runs kpf and fails the test unless it exits 0.
func (w *workspace) mustKpf(args ...string) string {
	w.t.Helper()
	code, out, errOut := w.kpf(args...)
	if code != 0 {
		w.t.Fatalf("kpf %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// expectNoChanges fails the test unless `kpf plan --detailed-exitcode`
// exits 0 and says "No changes.".
func (w *workspace) expectNoChanges(when string) {
	w.t.Helper()
	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		w.t.Errorf("plan %s: exit %d, want 0 and No changes.\n%s%s", when, code, out, errOut)
	}
}

// state reads the workspace's state file through kpf's own state package.
func (w *workspace) state() *state.File {
	w.t.Helper()
	dir, err := state.Dir(func(k string) string {
		if k == "KPF_STATE_DIR" {
			return w.stateDir
		}
		return ""
	}, w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := state.Open(dir)
	if err != nil {
		w.t.Fatal(err)
	}
	f, err := st.Load()
	if err != nil {
		w.t.Fatalf("state file is not valid: %v", err)
	}
	return f
}

// forward returns the state of one forward, failing if kpf has none.
func (w *workspace) forward(name string) state.Forward {
	w.t.Helper()
	f, ok := w.state().Forwards[name]
	if !ok {
		w.t.Fatalf("no forward %q in the state", name)
	}
	return f
}

// statusRow is the part of `kpf status --json` the tests read (the
// counters are absent for kubectl forwards).
type statusRow struct {
	Name      string `json:"name"`
	Local     string `json:"local"`
	State     string `json:"state"`
	Health    string `json:"health"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error"`
	Runtime   string `json:"runtime"`
	Pod       string `json:"pod"`
	Active    *int64 `json:"active_connections"`
	Total     *int64 `json:"total_connections"`
	BytesIn   *int64 `json:"bytes_in"`
	BytesOut  *int64 `json:"bytes_out"`
	Refused   *int64 `json:"refused_connections"`
}

func (w *workspace) status() map[string]statusRow {
	w.t.Helper()
	out := w.mustKpf("status", "--json")
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

// watcher is a running `kpf apply --watch`.
type watcher struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error
}

// watch starts `kpf apply --watch` and waits for its first apply to finish.
func (w *workspace) watch() *watcher {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	wt := &watcher{out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	wt.cmd = exec.Command(bin, "-C", w.dir, "--log-level", "info", "apply", "--watch")
	wt.cmd.Env = w.env()
	wt.cmd.Stdout, wt.cmd.Stderr = wt.out, wt.out
	if err := wt.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		wt.err = wt.cmd.Wait()
		close(wt.done)
	}()
	w.t.Cleanup(func() {
		wt.stop(w.t)
		if w.t.Failed() {
			w.t.Logf("kpf apply --watch output:\n%s", wt.out.String())
		}
	})
	w.waitOutput(wt, "Watching", time.Minute)
	return wt
}

// waitOutput waits until the watcher has printed want.
func (w *workspace) waitOutput(wt *watcher, want string, within time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(wt.out.String(), want) {
		select {
		case <-wt.done:
			w.t.Fatalf("kpf apply --watch exited (%v) before printing %q:\n%s", wt.err, want, wt.out.String())
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("kpf apply --watch did not print %q within %s:\n%s", want, within, wt.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop interrupts the watcher like Ctrl-C and waits for it to exit.
func (wt *watcher) stop(t *testing.T) {
	select {
	case <-wt.done:
		return
	default:
	}
	_ = wt.cmd.Process.Signal(os.Interrupt)
	select {
	case <-wt.done:
		if wt.err != nil { // Ctrl-C is a clean exit
			t.Errorf("kpf apply --watch exited with %v after SIGINT:\n%s", wt.err, wt.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("kpf apply --watch did not stop within 20 s of SIGINT")
		_ = wt.cmd.Process.Kill()
		<-wt.done
	}
}

// waitUntil polls cond every 200 ms until it holds or within passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, within, 200*time.Millisecond, what, cond)
}

// killForward SIGKILLs a forward's kubectl behind kpf's back.
func killForward(t *testing.T, f state.Forward) {
	t.Helper()
	if !proc.Alive(procOf(f.Handle)) {
		t.Fatalf("forward %s (pid %d) is not alive before the kill", f.Name, procOf(f.Handle).PID)
	}
	if err := syscall.Kill(procOf(f.Handle).PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", procOf(f.Handle).PID, err)
	}
}

// kubectlPortForwardsFor lists the pids of kubectl port-forward processes
// whose argv mentions ns (from /proc; Linux only, which is where CI runs).
func kubectlPortForwardsFor(t *testing.T, ns string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		if len(argv) > 2 && strings.HasSuffix(argv[0], "kubectl") && argv[1] == "port-forward" && strings.Contains(string(b), "\x00"+ns+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procOf is the kubectl process a handle names (zero for another runtime's).
func procOf(h runtime.Handle) proc.ID {
	id, _ := kubectl.Process(h)
	return id
}

// kpfResult is one run of kpf.
type kpfResult struct {
	code        int
	out, errOut string
}

// kpfAtOnce runs n copies of kpf with args at the same moment and returns
// their results in start order.
func (w *workspace) kpfAtOnce(n int, args ...string) []kpfResult {
	w.t.Helper()
	results := make([]kpfResult, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, errOut := w.kpf(args...)
			results[i] = kpfResult{code, out, errOut}
		}()
	}
	wg.Wait()
	return results
}
