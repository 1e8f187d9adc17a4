//go:build linux

package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/test/term"
)

// capture writes the view of a real `kpf apply --watch` to
// docs/live-view.txt, the capture the README includes:
//
//	go test -count=1 -run TestLiveView ./test/e2e -capture
var capture = flag.Bool("capture", false, "write the live view's screen to docs/live-view.txt")

// inTerminal runs kpf with args in the workspace, in a real terminal (a
// private tmux server) of the given size; the window stays after kpf
// exits, showing "EXITED code".
func (w *workspace) inTerminal(width, height int, args ...string) *term.Session {
	w.t.Helper()
	bin, err := kpfBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	env := w.env()
	sort.Strings(env)
	var line strings.Builder
	line.WriteString("env -i")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "TERM" || k == "TMUX" || k == "TMUX_PANE" || strings.ContainsAny(k, " ;'\"$") {
			continue
		}
		fmt.Fprintf(&line, " %s=%q", k, v)
	}
	line.WriteString(" TERM=xterm-256color")
	fmt.Fprintf(&line, " %q -C %q", bin, w.dir)
	for _, a := range args {
		fmt.Fprintf(&line, " %q", a)
	}
	line.WriteString("; echo EXITED $?; sleep 600")
	return term.Start(w.t, width, height, line.String())
}

// row returns the line of the table that shows forward name ("" if none).
func row(screen, name string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " ›"), name+" ") && strings.Contains(l, "127.0.0.1:") {
			return l
		}
	}
	return ""
}

// TestLiveView: `kpf apply --watch` in a real terminal on the local
// control plane. The table comes up with the three forwards running; a
// forward killed behind kpf's back goes through restarting back to running
// with a restart counted; r restarts the selected forward (a new kubectl);
// / filters; l shows the selected forward's log, following; q quits the
// view and the forwards keep serving.
func TestLiveView(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns)
	web, api, db := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", "kpf {\n  name    = \"shop\"\n  runtime = \"kubectl\"\n}\n"+threeForwardSpec(web, api, db))

	s := w.inTerminal(120, 20, "apply", "--watch")
	s.WaitFor("the table with three forwards running", term.Contains("NAME", "STATE", "shop │ 3 running", "kpf-local"))
	s.WaitFor("web healthy", func(scr string) bool { return strings.Contains(row(scr, "web"), "healthy") })

	// A forward killed behind kpf's back: restarting, then running again.
	before := w.forward("web")
	killForward(t, before)
	var states []string
	s.WaitFor("web restarting, then running again with a restart counted", func(scr string) bool {
		r := row(scr, "web")
		for _, st := range []string{"restarting", "exited", "running"} {
			if strings.Contains(r, " "+st+" ") && (len(states) == 0 || states[len(states)-1] != st) {
				states = append(states, st)
			}
		}
		return strings.Contains(r, " running ") && strings.Contains(scr, "web: restarted on")
	})
	if !strings.Contains(strings.Join(states, " "), "restarting running") {
		t.Errorf("web's row went %v, want restarting then running", states)
	}
	after := w.forward("web")
	if procOf(after.Handle).PID == procOf(before.Handle).PID || after.Restarts != 1 {
		t.Errorf("web after the kill: %+v", after)
	}
	httpGetRetry(t, web, "/", 15*time.Second)

	// r on the first row (api): a new kubectl serves it.
	apiBefore := w.forward("api")
	s.Keys("r")
	s.WaitFor("api restarted on request", term.Contains("api: restarted on", "restart requested"))
	if a := w.forward("api"); a.Handle == apiBefore.Handle || proc.Alive(procOf(apiBefore.Handle)) {
		t.Errorf("r did not replace api's kubectl: before %v, after %v", apiBefore.Handle, a.Handle)
	}

	// / filters by name; l opens the log of the row left, following it.
	s.Keys("/", "d", "b", "Enter")
	s.WaitFor("only db", func(scr string) bool {
		return row(scr, "db") != "" && row(scr, "web") == "" && row(scr, "api") == "" && strings.Contains(scr, "1 of 3")
	})
	s.Keys("l")
	s.WaitFor("db's log", term.Contains("log db", "Forwarding from 127.0.0.1:"))
	s.Keys("Escape")
	s.WaitFor("the log closed", func(scr string) bool { return !strings.Contains(scr, "log db") })
	s.Keys("Escape")
	s.WaitFor("the filter cleared", func(scr string) bool { return row(scr, "api") != "" && row(scr, "web") != "" })

	// j to web: its log shows both of its kubectl runs.
	s.Keys("j")
	s.WaitFor("web selected", func(scr string) bool { return strings.HasPrefix(row(scr, "web"), "›") })
	s.Keys("l")
	scr := s.WaitFor("web's log", func(scr string) bool {
		return strings.Contains(scr, "log web") && strings.Count(scr, "Forwarding from 127.0.0.1:") == 2
	})
	if *capture {
		writeCapture(t, scr)
	}

	s.Keys("q")
	s.WaitFor("the watch quit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))
	for _, name := range []string{"web", "api", "db"} {
		if f := w.forward(name); !proc.Alive(procOf(f.Handle)) {
			t.Errorf("forward %s stopped with the view", name)
		}
	}
	if body := httpGetRetry(t, web, "/", 10*time.Second); !strings.HasPrefix(body, "web-") {
		t.Errorf("web after q: %q", body)
	}
	if body := httpGetRetry(t, api, "/", 10*time.Second); !strings.HasPrefix(body, "api-") {
		t.Errorf("api after q: %q", body)
	}
	if banner, err := readBanner(testContext(t), db); err != nil || banner != "db-0" {
		t.Errorf("db after q: %q, %v", banner, err)
	}
}

// writeCapture writes screen (trailing blanks trimmed) to
// docs/live-view.txt.
func writeCapture(t *testing.T, screen string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	path := filepath.Join("..", "..", "docs", "live-view.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// TestLiveViewIdleCost prints what `kpf apply --watch` with the view costs
// with 100 idle forwards of the native runtime (the default): the CPU time
// of the kpf process and of the workspace's agent over 30 s, as a share of
// one core. It measures; it asserts nothing about the figure. Run it on
// purpose:
//
//	KPF_E2E_MEASURE=1 go test -count=1 -run TestLiveViewIdleCost -v ./test/e2e
func TestLiveViewIdleCost(t *testing.T) {
	if os.Getenv("KPF_E2E_MEASURE") != "1" {
		t.Skip("a measurement: set KPF_E2E_MEASURE=1")
	}
	const n = 100
	ns := newNamespace(t)
	w := newWorkspaceWith(t, ns, "")
	var spec strings.Builder
	spec.WriteString("kpf {\n  name = \"idle\"\n}\n")
	for i := range n {
		fmt.Fprintf(&spec, "forward \"api-%03d\" {\n  context     = \"kpf-local\"\n  namespace   = \"%s\"\n  target      = \"deployment/api\"\n  remote_port = 8080\n}\n", i, ns)
	}
	w.writeSpec("kpf.hcl", spec.String())
	// KPF_E2E_PLAIN=1 measures the same watch without the view, for
	// comparison.
	args := []string{"apply", "--watch"}
	plain := os.Getenv("KPF_E2E_PLAIN") == "1"
	if plain {
		args = append(args, "--plain")
	}
	if p := os.Getenv("KPF_E2E_CPUPROFILE"); p != "" {
		args = append(args, "--cpuprofile", p)
	}
	s := w.inTerminal(120, 30, args...)
	if plain {
		s.WaitFor("100 forwards running", term.Contains(fmt.Sprintf("Watching %d forwards", n)))
	} else {
		s.WaitFor("100 forwards running", term.Contains(fmt.Sprintf("idle │ %d running", n)))
	}
	time.Sleep(5 * time.Second) // let the first probes and health checks settle

	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	view := findProcess(t, func(argv []string) bool {
		return len(argv) > 3 && argv[0] == bin && argv[2] == w.dir && argv[3] == "apply"
	})
	agent := findProcess(t, func(argv []string) bool {
		return len(argv) > 3 && argv[0] == bin && argv[1] == "agent" && strings.HasPrefix(argv[3], w.stateDir) &&
			slices.Contains(argv, "--serve") // the serving agent, not its supervisor
	})
	const window = 30 * time.Second
	v0, a0, t0 := cpuTime(t, view), cpuTime(t, agent), time.Now()
	time.Sleep(window)
	v1, a1, el := cpuTime(t, view), cpuTime(t, agent), time.Since(t0)
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / el.Seconds() }
	what := "with the view"
	if plain {
		what = "--plain (no view)"
	}
	t.Logf("apply --watch %s, %d idle native forwards, %s: kpf %.2f%% of one core (%s CPU), agent %.2f%% (%s CPU)",
		what, n, el.Round(time.Second), pct(v1-v0), (v1 - v0).Round(time.Millisecond), pct(a1-a0), (a1 - a0).Round(time.Millisecond))
	if plain {
		s.Keys("C-c")
	} else {
		s.Keys("q")
	}
	s.WaitFor("the watch quit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))
}

// findProcess returns the pid of the one process whose argv matches.
func findProcess(t *testing.T, match func(argv []string) bool) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			return pid
		}
	}
	t.Fatal("no such process")
	return 0
}

// cpuTime is the user and system CPU time of pid so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis; utime and stime are
	// the 14th and 15th of the whole line, in clock ticks (100 a second).
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// TestLiveViewNativeLogAndSpecError: the live view on native forwards.
// The log pane follows the selected forward across an r (its new handle's
// log, not "ended"); a broken spec's diagnostic is shown whole, its "did
// you mean" included; `status --watch` says that r is not its to do.
func TestLiveViewNativeLogAndSpecError(t *testing.T) {
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	spec := "kpf {\n  name = \"shop\"\n}\n\nvariable \"context\" {\n  type    = string\n  default = \"kpf-local\"\n}\n\n" +
		"forward \"web\" {\n  context     = var.context\n  namespace   = \"%NS%\"\n  target      = \"svc/web\"\n" +
		fmt.Sprintf("  local_port  = %d\n", port) + "  remote_port = \"http\"\n}\n"
	w.writeSpec("kpf.hcl", spec)

	s := w.inTerminal(100, 24, "apply", "--watch")
	s.WaitFor("web running", func(scr string) bool { return strings.Contains(row(scr, "web"), " running ") })
	s.Keys("l")
	httpGetRetry(t, port, "/", 10*time.Second)
	s.WaitFor("web's log with a connection", term.Contains("log web (following", "conn-opened"))

	before := w.forward("web").Handle
	s.Keys("r")
	s.WaitFor("web restarted on request", term.Contains("web: restarted on", "restart requested"))
	if after := w.forward("web").Handle; after.ID == before.ID {
		t.Fatalf("r did not give web a new handle: %v", after)
	}
	s.WaitFor("the log following the new handle", term.Contains("--- kpf: web started again; following its new log"))
	httpGetRetry(t, port, "/", 10*time.Second)
	scr := s.WaitFor("a connection after the restart in the log", func(scr string) bool {
		_, after, ok := strings.Cut(scr, "started again")
		return ok && strings.Contains(after, "conn-opened")
	})
	if strings.Contains(scr, "ended") {
		t.Errorf("the log pane ended after r:\n%s", scr)
	}
	s.Keys("Escape")

	// A typo in a reference: the whole diagnostic, hint included.
	w.writeSpec("kpf.hcl", strings.Replace(spec, "var.context", "var.ctx", 1))
	scr = s.WaitFor("the broken spec's diagnostic", term.Contains("spec not loaded", `did you mean "context"?`))
	if !strings.Contains(strings.Join(strings.Fields(scr), " "), `variable "ctx" is not declared; did you mean "context"?`) {
		t.Errorf("the diagnostic is not shown whole:\n%s", scr)
	}
	s.Keys("q")
	s.WaitFor("the watch quit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))

	// status --watch is read-only, and says so when r is pressed.
	w.writeSpec("kpf.hcl", spec)
	ro := w.inTerminal(100, 24, "status", "--watch")
	ro.WaitFor("web running", func(scr string) bool { return strings.Contains(row(scr, "web"), " running ") })
	ro.Keys("r")
	ro.WaitFor("r refused", term.Contains("read-only view: 'kpf apply --watch' restarts forwards"))
	ro.Keys("q")
	ro.WaitFor("status --watch quit", term.Contains("EXITED 0"))
}
