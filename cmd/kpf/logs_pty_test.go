//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the controlling side and the terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("opening the terminal: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestLogsEscapesOnATerminal: on a terminal, escape sequences in a
// forward's log are shown escaped; piped, the log is copied byte for byte.
func TestLogsEscapesOnATerminal(t *testing.T) {
	dir := t.TempDir()
	c := newCLI(t)
	store := cliStore(t, c, dir)
	const line = "E1128 error: \x1b]0;pwned\x07 lost\n"
	if err := os.WriteFile(store.LogPath("api"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &app{opts: globalOptions{Dir: dir}, getenv: func(k string) string { return c.env[k] }}

	var piped bytes.Buffer
	if err := a.logs(context.Background(), &piped, "api", logsOptions{}); err != nil {
		t.Fatal(err)
	}
	if piped.String() != line {
		t.Errorf("piped logs = %q, want the bytes of the log", piped.String())
	}

	master, tty := openPTY(t)
	if err := a.logs(context.Background(), tty, "api", logsOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = master.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := master.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if strings.Contains(got, "\x1b") || strings.Contains(got, "\x07") || !strings.Contains(got, `\x1b]0;pwned\a`) {
		t.Errorf("logs on a terminal wrote %q", got)
	}
}
