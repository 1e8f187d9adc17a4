package term

import (
	"strings"
	"testing"
)

// TestSession: a shell's echo, typed keys and a resize, seen on screen.
func TestSession(t *testing.T) {
	s := Start(t, 40, 10, "sh -c 'read line; echo got:$line; read x; stty size; sleep 60'")
	s.Keys("hello", "Enter")
	s.WaitFor("the echo", Contains("got:hello"))
	s.Resize(50, 12)
	s.Keys("Enter")
	scr := s.WaitFor("the new size", Contains("12 50"))
	if n := len(strings.Split(strings.TrimRight(scr, "\n"), "\n")); n > 12 {
		t.Errorf("%d lines on a 12-line terminal", n)
	}
}
