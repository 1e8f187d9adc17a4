package live

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/test/term"
)

// startDemo runs livedemo in a real terminal (tmux, through test/term).
func startDemo(t *testing.T, width, height int, env string, args ...string) *term.Session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux: the real-terminal test needs it")
	}
	bin := filepath.Join(t.TempDir(), "livedemo")
	if out, err := exec.Command("go", "build", "-o", bin, "./livedemo").CombinedOutput(); err != nil {
		t.Fatalf("building livedemo: %v\n%s", err, out)
	}
	// The window outlives the program so what it prints last can be read.
	return term.Start(t, width, height,
		fmt.Sprintf("env %s %s --every 100ms %s; echo EXITED $?; sleep 60", env, bin, strings.Join(args, " ")))
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
	s := startDemo(t, 80, 24, "")
	scr := s.WaitFor("the table", term.Contains("NAME", "postgres", "› api", "shop │"))
	if n := len(strings.Split(strings.TrimRight(scr, "\n"), "\n")); n > 24 {
		t.Errorf("%d lines on a 24-line terminal", n)
	}

	s.Keys("j")
	s.WaitFor("cart selected", term.Contains("› cart"))
	s.Keys("r")
	s.WaitFor("cart restarting", func(scr string) bool { return strings.Contains(rowOf(scr, "cart"), "restarting") })
	s.WaitFor("cart running again, one restart", func(scr string) bool {
		f := strings.Fields(strings.TrimPrefix(rowOf(scr, "cart"), "›"))
		return len(f) >= 7 && f[3] == "running" && f[6] == "1"
	})

	s.Keys("k", "Down", "Up")
	s.WaitFor("api selected", term.Contains("› api"))

	s.Keys("/", "p", "o", "s")
	s.WaitFor("typed filter", term.Contains("/pos"))
	s.Keys("Enter")
	scr = s.WaitFor("filter in force", term.Contains("/pos  1 of 7", "› postgres"))
	if rowOf(scr, "api") != "" {
		t.Errorf("api shown through the filter /pos:\n%s", scr)
	}
	s.Keys("Escape")
	s.WaitFor("filter cleared", func(scr string) bool { return rowOf(scr, "api") != "" && !strings.Contains(scr, "1 of 7") })

	s.Keys("l")
	s.WaitFor("postgres's log, following", term.Contains("log postgres (following", "connection 2 from 127.0.0.1:50002 to postgres"))
	s.Keys("Escape")
	s.WaitFor("log closed", func(scr string) bool { return !strings.Contains(scr, "log postgres") })
	s.Keys("Enter")
	s.WaitFor("log by enter", term.Contains("log postgres (following"))

	s.Keys("o")
	s.WaitFor("open's error", term.Contains("open postgres: the demo opens no browser"))

	s.Keys("?")
	s.WaitFor("full help", term.Contains("page down", "close log / clear filter"))
	s.Keys("?")

	s.Resize(140, 30)
	s.WaitFor("the wide columns", term.Contains("TRAFFIC", "POD", "postgres-0", "/s"))

	s.Keys("q")
	s.WaitFor("the program's own exit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))
}

// TestTerminalReadOnlyNoColor: NO_COLOR in a real terminal gives a frame
// without colours, and the read-only view ignores r.
func TestTerminalReadOnlyNoColor(t *testing.T) {
	s := startDemo(t, 100, 20, "NO_COLOR=1", "--read-only")
	s.WaitFor("the table", term.Contains("postgres"))
	s.Keys("r")
	time.Sleep(300 * time.Millisecond) // a few snapshots: a restart would show
	scr := s.ScreenANSI()
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

// TestTerminalColour: the same terminal without NO_COLOR shows colours (so
// the NO_COLOR test above can fail).
func TestTerminalColour(t *testing.T) {
	s := startDemo(t, 100, 20, "TERM=xterm-256color")
	s.WaitFor("the table", term.Contains("postgres"))
	if scr := s.ScreenANSI(); !strings.Contains(scr, "[32m") {
		t.Errorf("no green in a colour terminal:\n%s", scr)
	}
}
