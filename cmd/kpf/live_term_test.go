//go:build linux || darwin

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testwait"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/test/term"
)

// buildEnv is the environment the test binary started with: tests change
// HOME, which would point go build at an empty module and build cache.
var buildEnv = os.Environ()

// kpfBinary builds kpf once for the real-terminal tests, beside the fake
// kubectl (TestMain removes that folder).
var kpfBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(fakeKubectl), "kpf")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = buildEnv
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building kpf: %w\n%s", err, out)
	}
	return bin, nil
})

// inTerminal runs `kpf ARGS` in a real terminal (tmux) with the cli's
// environment; the window stays after kpf exits, showing "EXITED code".
func inTerminal(t *testing.T, c *cli, width, height int, extraEnv map[string]string, args ...string) *term.Session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PATH": os.Getenv("PATH"), "TERM": "xterm-256color"}
	for k, v := range c.env {
		env[k] = v
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var line strings.Builder
	line.WriteString("env -i")
	for _, k := range keys {
		fmt.Fprintf(&line, " %s=%q", k, env[k])
	}
	fmt.Fprintf(&line, " %q", bin)
	for _, a := range args {
		fmt.Fprintf(&line, " %q", a)
	}
	line.WriteString("; echo EXITED $?; sleep 600")
	return term.Start(t, width, height, line.String())
}

// TestLiveTerminal: `kpf apply --watch` in a real terminal shows the table
// (no progress lines), and its keys act on the real forwards (the fake
// kubectl's processes): r restarts one, / filters, l shows its log, o opens
// it, q quits with the forwards still running. Meanwhile `kpf status
// --watch` shows the same workspace read-only, without waiting for the
// lock the watch holds.
func TestLiveTerminal(t *testing.T) {
	dir, c, api, web := appliedWorkspace(t)
	opened := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := inTerminal(t, c, 120, 24, map[string]string{"NO_COLOR": "1", "BROWSER": browser}, "-C", dir, "apply", "--watch")
	scr := s.WaitFor("the table", term.Contains("NAME", "STATE", fmt.Sprintf("127.0.0.1:%d", api), fmt.Sprintf("127.0.0.1:%d", web), "2 running 1 disabled", "kind-dev"))
	if strings.Contains(scr, "Watching") || strings.Contains(scr, "No changes") {
		t.Errorf("progress lines on the view's screen:\n%s", scr)
	}
	before := stateHandles(t, c, dir)

	// r on the first row (api): the watch stops and starts it.
	s.Keys("r")
	s.WaitFor("api restarted", term.Contains("api: restarted on", "restart requested"))
	after := stateHandles(t, c, dir)
	if after["api"] == before["api"] || after["web"] != before["web"] {
		t.Errorf("after r on api: api %v → %v, web %v → %v; want only api restarted", before["api"], after["api"], before["web"], after["web"])
	}
	if proc.Alive(procOf(t, before["api"])) {
		t.Errorf("the old api process %d is still alive", procOf(t, before["api"]).PID)
	}

	// l: api's log, following; Esc closes it.
	s.Keys("l")
	s.WaitFor("api's log", term.Contains("log api", "Forwarding from", "kubectl port-forward service/api"))
	s.Keys("Escape")
	s.WaitFor("the log closed", func(scr string) bool { return !strings.Contains(scr, "log api") })

	// / filters by name; o opens the selected (the only) row.
	s.Keys("/", "w", "e", "b", "Enter")
	s.WaitFor("only web", func(scr string) bool {
		return strings.Contains(scr, "1 of 3") && strings.Contains(scr, "› web ") && !strings.Contains(scr, " api      127.0.0.1")
	})
	s.Keys("o")
	s.WaitFor("web opened", term.Contains("web: opened"))
	// The stand-in browser runs on its own: its file may come a little later.
	want := fmt.Sprintf("http://127.0.0.1:%d/\n", web)
	testwait.For(t, 10*time.Second, 20*time.Millisecond, "the browser to get "+want, func() bool {
		b, err := os.ReadFile(opened)
		return err == nil && string(b) == want
	})

	// A broken spec shows above the footer, whole; the forwards stay; fixed,
	// it loads again.
	good := liveSpec(api, web)
	writeSpec(t, dir, "kpf.hcl", strings.Replace(good, "remote_port = 80\n  health", "remote_port = 80\n  bogus = 1\n  health", 1))
	s.WaitFor("the spec's error above the footer", term.Contains(`kpf.hcl:19:3: error: Unsupported argument: An argument named "bogus" is not expected here.`, "spec not loaded", "2 running 1 disabled"))
	writeSpec(t, dir, "kpf.hcl", good)
	s.WaitFor("the spec loads again", term.Contains("the spec loads again", "spec loaded"))

	// status --watch beside it: read-only, no lock needed.
	ro := inTerminal(t, c, 100, 20, map[string]string{"NO_COLOR": "1"}, "-C", dir, "status", "--watch")
	scr = ro.WaitFor("status --watch's table", term.Contains("NAME", fmt.Sprintf("127.0.0.1:%d", api), "2 running"))
	if strings.Contains(scr, "r restart") {
		t.Errorf("status --watch offers restart:\n%s", scr)
	}
	ro.Keys("r")
	ro.Keys("q")
	ro.WaitFor("status --watch quit", term.Contains("Stopped watching.", "EXITED 0"))
	if got := stateHandles(t, c, dir); got["api"] != after["api"] {
		t.Errorf("r in status --watch restarted api")
	}

	s.Keys("q")
	scr = s.WaitFor("the watch quit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))
	if strings.Contains(scr, "STATE") || strings.Contains(scr, "q quit") {
		t.Errorf("the table is still on the screen after q (terminal not restored):\n%s", scr)
	}
	for name, h := range stateHandles(t, c, dir) {
		if !proc.Alive(procOf(t, h)) {
			t.Errorf("forward %s stopped with the watch", name)
		}
	}
	if fi, err := os.Stat(filepath.Join(stateDirOf(t, c, dir), "watch.log")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("watch.log: %v %v", fi, err)
	}
}

// TestPlainWatchInTerminal: --plain keeps today's lines on a terminal.
func TestPlainWatchInTerminal(t *testing.T) {
	dir, c, _, _ := appliedWorkspace(t)
	s := inTerminal(t, c, 100, 20, nil, "-C", dir, "apply", "--watch", "--plain")
	s.WaitFor("the plain watch", term.Contains("No changes. Your forwards match the spec.", "Watching 2 forwards"))
	s.Keys("C-c")
	s.WaitFor("the plain watch stopped", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))
}

func stateDirOf(t *testing.T, c *cli, dir string) string {
	t.Helper()
	a := testApp(t, c, dir)
	abs, _ := filepath.Abs(dir)
	st, err := a.store(abs)
	if err != nil {
		t.Fatal(err)
	}
	return st.Dir()
}
