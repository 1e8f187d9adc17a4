package live

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession is livedemo running in a real terminal: a tmux server of its
// own (a private socket), one window of a given size.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, width, height int, env string, args ...string) *tmuxSession {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("no tmux: the real-terminal test needs it")
	}
	bin := filepath.Join(t.TempDir(), "livedemo")
	if out, err := exec.Command("go", "build", "-o", bin, "./livedemo").CombinedOutput(); err != nil {
		t.Fatalf("building livedemo: %v\n%s", err, out)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("kpf-live-%d-%d", os.Getpid(), time.Now().UnixNano())}
	// The pane outlives the program so what it prints last can be read.
	cmd := fmt.Sprintf("env %s %s --every 100ms %s; echo EXITED $?; sleep 60", env, bin, strings.Join(args, " "))
	if out, err := exec.Command(tmux, "-L", s.socket, "-f", "/dev/null", "new-session", "-d",
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "-s", "live", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", "live") }

func (s *tmuxSession) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "live"}, keys...)...)
}

// waitFor waits until the screen satisfies cond; the deadline only turns a
// hang into a failure.
func (s *tmuxSession) waitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := s.screen()
		if cond(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("never on screen: %s\n%s", what, scr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(subs ...string) func(string) bool {
	return func(scr string) bool {
		for _, sub := range subs {
			if !strings.Contains(scr, sub) {
				return false
			}
		}
		return true
	}
}

// rowOf is the screen line of forward name.
func rowOf(scr, name string) string {
	for _, l := range strings.Split(scr, "\n") {
		if f := strings.Fields(strings.TrimPrefix(l, "›")); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

// TestTerminal drives the view in a real terminal (tmux) at 80×24: every
// key, a restart seen going through restarting back to running, the log
// pane, a resize, and q, after which the caller's code runs on.
func TestTerminal(t *testing.T) {
	s := startTmux(t, 80, 24, "")
	scr := s.waitFor("the table", contains("NAME", "postgres", "› api", "shop │"))
	if n := len(strings.Split(strings.TrimRight(scr, "\n"), "\n")); n > 24 {
		t.Errorf("%d lines on a 24-line terminal", n)
	}

	s.keys("j")
	s.waitFor("cart selected", contains("› cart"))
	s.keys("r")
	s.waitFor("cart restarting", func(scr string) bool { return strings.Contains(rowOf(scr, "cart"), "restarting") })
	s.waitFor("cart running again, one restart", func(scr string) bool {
		f := strings.Fields(strings.TrimPrefix(rowOf(scr, "cart"), "›"))
		return len(f) >= 7 && f[3] == "running" && f[6] == "1"
	})

	s.keys("k", "Down", "Up")
	s.waitFor("api selected", contains("› api"))

	s.keys("/", "p", "o", "s")
	s.waitFor("typed filter", contains("/pos"))
	s.keys("Enter")
	scr = s.waitFor("filter in force", contains("/pos  1 of 7", "› postgres"))
	if rowOf(scr, "api") != "" {
		t.Errorf("api shown through the filter /pos:\n%s", scr)
	}
	s.keys("Escape")
	s.waitFor("filter cleared", func(scr string) bool { return rowOf(scr, "api") != "" && !strings.Contains(scr, "1 of 7") })

	s.keys("l")
	s.waitFor("postgres's log, following", contains("log postgres (following", "connection 2 from 127.0.0.1:50002 to postgres"))
	s.keys("Escape")
	s.waitFor("log closed", func(scr string) bool { return !strings.Contains(scr, "log postgres") })
	s.keys("Enter")
	s.waitFor("log by enter", contains("log postgres (following"))

	s.keys("o")
	s.waitFor("open's error", contains("open postgres: the demo opens no browser"))

	s.keys("?")
	s.waitFor("full help", contains("page down", "close log / clear filter"))
	s.keys("?")

	s.tmux("resize-window", "-t", "live", "-x", "140", "-y", "30")
	s.waitFor("the wide columns", contains("TRAFFIC", "POD", "postgres-0", "/s"))

	s.keys("q")
	s.waitFor("the program's own exit", contains("Stopped watching; forwards keep running.", "EXITED 0"))
}

// TestTerminalReadOnlyNoColor: NO_COLOR in a real terminal gives a frame
// without colours, and the read-only view ignores r.
func TestTerminalReadOnlyNoColor(t *testing.T) {
	s := startTmux(t, 100, 20, "NO_COLOR=1", "--read-only")
	s.waitFor("the table", contains("postgres"))
	s.keys("r")
	time.Sleep(300 * time.Millisecond) // a few snapshots: a restart would show
	scr := s.tmux("capture-pane", "-p", "-e", "-t", "live")
	if strings.Contains(scr, "restarting") || strings.Contains(scr, " restart ") {
		t.Errorf("read-only view restarted or offers restart:\n%s", scr)
	}
	for _, colour := range []string{"[31m", "[32m", "[33m", "38;5;", "38;2;"} {
		if strings.Contains(scr, colour) {
			t.Errorf("NO_COLOR frame has colour %q", colour)
		}
	}
	if !strings.Contains(scr, "[7m") && !strings.Contains(scr, ";7m") {
		t.Errorf("NO_COLOR frame lost the reversed selection")
	}
}
