package term

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Timeout is how long WaitFor waits: it only turns a hang into a failure.
var Timeout = 15 * time.Second

// Session is one program running in a tmux window.
type Session struct {
	t      testing.TB
	tmux   string
	socket string
}

// Start runs command (a shell command line) in a new width×height terminal.
// The window outlives the program when the command ends in a sleep, so what
// it prints last can be read: "kpf apply --watch; echo EXITED $?; sleep 60".
func Start(t testing.TB, width, height int, command string) *Session {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("no tmux: the real-terminal test needs it")
	}
	s := &Session{t: t, tmux: tmux, socket: fmt.Sprintf("kpf-term-%d-%d", os.Getpid(), time.Now().UnixNano())}
	if out, err := exec.Command(tmux, "-L", s.socket, "-f", "/dev/null", "new-session", "-d",
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "-s", "main", command).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *Session) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Screen is the text on the screen, one line per row.
func (s *Session) Screen() string { return s.run("capture-pane", "-p", "-t", "main") }

// ScreenANSI is the screen with its colours and attributes as escape codes.
func (s *Session) ScreenANSI() string { return s.run("capture-pane", "-p", "-e", "-t", "main") }

// Keys types keys: text, or tmux key names (Up, Enter, Escape, C-c).
func (s *Session) Keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

// Resize changes the terminal's size; the program gets SIGWINCH.
func (s *Session) Resize(width, height int) {
	s.run("resize-window", "-t", "main", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height))
}

// WaitFor polls the screen until cond holds and returns it; after Timeout
// the test fails, showing the screen.
func (s *Session) WaitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		scr := s.Screen()
		if cond(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("never on screen: %s\n%s", what, scr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Contains is a WaitFor condition: every one of subs is on the screen.
func Contains(subs ...string) func(string) bool {
	return func(scr string) bool {
		for _, sub := range subs {
			if !strings.Contains(scr, sub) {
				return false
			}
		}
		return true
	}
}
