//go:build linux

package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

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
	web, api, db := freeLocalPort(t), freeLocalPort(t), freeLocalPort(t)
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
