//go:build linux || darwin

package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestAgentSurvivesFDExhaustion: an agent (a real child process) whose
// file descriptors a local client used up — its control socket's Accept
// failing with EMFILE while hello waits — answers again once they are
// released, and keeps its forwards. On main its accept loop returned at
// the first error and the agent exited, taking every forward with it.
func TestAgentSurvivesFDExhaustion(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, "v1")
	t.Setenv("KPF_TEST_NOFILE", "64")
	port := testutil.FreePort(t)
	h, err := r.Start(ctx, spec("api", port))
	if err != nil {
		t.Fatal(err)
	}
	pid := r.AgentPID(ctx)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for exhausted := false; !exhausted; {
		if len(held) > 500 {
			t.Fatal("500 connections did not exhaust an agent limited to 64 descriptors")
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		// A connection the agent can no longer accept sits in the backlog
		// unanswered.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		exhausted = err != nil
	}
	// The control socket's Accept now fails too: this hello waits (or
	// fails), and on main the agent died of it.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, _ = r.hello(short)
	cancel()
	for _, c := range held {
		c.Close()
	}
	held = nil

	long, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hl, err := r.hello(long)
	if err != nil || hl.PID != pid {
		t.Fatalf("after the descriptors came back: hello %+v, %v; want the agent (pid %d) answering", hl, err, pid)
	}
	if st, err := r.Inspect(long, h); err != nil || !st.Alive {
		t.Fatalf("status after the descriptors came back: %+v, %v", st, err)
	}
	if got, err := greet(t, port); err != nil || got != "api" {
		t.Fatalf("the forward answered %q, %v", got, err)
	}
	b, _ := os.ReadFile(filepath.Join(r.StateDir, "logs", "agent.out"))
	if !strings.Contains(string(b), "accepting a control connection failed") {
		t.Logf("the agent's accept never failed (the test exhausted only its forward); output:\n%s", b)
	}
}

// TestPeerOfAnotherUserRefused: a process of another uid that reaches the
// socket (its directory and mode opened up for the test) is refused by the
// agent, which logs its uid. Needs root, to run the child as nobody.
func TestPeerOfAnotherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as uid 65534")
	}
	a := serveInProcess(t, AgentOptions{Serve: &stubServer{}})
	if err := os.Chmod(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(a.socket, 0o666); err != nil {
		t.Fatal(err)
	}
	// The test binary, where nobody can run it.
	bin, err := os.MkdirTemp("", "kpfbin")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	exe := filepath.Join(bin, "native.test")
	if err := copyFile(os.Args[0], exe); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "dial-peer", a.socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refused") {
		t.Fatalf("a client of uid 65534 was not refused: %v\n%s", err, out)
	}
	if !strings.Contains(a.log.String(), "uid 65534") {
		t.Errorf("the refusal was not logged with the uid:\n%s", a.log.String())
	}
	if _, err := a.call(request{Op: opHello}); err != nil {
		t.Fatalf("our own hello: %v", err)
	}
}

// dialPeer is the child of TestPeerOfAnotherUserRefused: it says hello on
// socket; exit 0 when answered.
func dialPeer(socket string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		fmt.Println("dial:", err)
		return 2
	}
	defer c.Close()
	fmt.Fprintf(c, `{"protocol":%d,"op":"hello"}`+"\n", Protocol)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		fmt.Printf("answered: %s\n", b)
		return 0
	}
	fmt.Println("refused:", err)
	return 1
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// TestSocketLinkRefused: agent.sock that is a symbolic link to another
// workspace's socket, or a hard link to it, is refused — hello, sweep and
// stop say so — and the other workspace's forward keeps running. On main
// a sweep through the link stopped it.
func TestSocketLinkRefused(t *testing.T) {
	ctx := context.Background()
	other := newRuntime(t, "v1")
	port := testutil.FreePort(t)
	h, err := other.Start(ctx, spec("api", port))
	if err != nil {
		t.Fatal(err)
	}
	otherSocket, _ := SocketPath(other.StateDir)
	for _, tc := range []struct {
		name string
		link func(old, new string) error
		want string
	}{
		{"symlink", os.Symlink, "not a socket but a symbolic link"},
		{"hard link", os.Link, "serves the workspace whose state is in " + other.StateDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, "v1")
			socket, _ := SocketPath(r.StateDir)
			if err := tc.link(otherSocket, socket); err != nil {
				t.Fatal(err)
			}
			if _, err := r.hello(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("hello through a %s: %v; want %q", tc.name, err, tc.want)
			}
			if _, err := r.Sweep(ctx, nil); err == nil {
				t.Errorf("sweep through a %s was not refused", tc.name)
			}
			if err := r.Stop(ctx, h); err == nil {
				t.Errorf("stop through a %s was not refused", tc.name)
			}
			if _, err := r.Start(ctx, spec("web", testutil.FreePort(t))); err == nil {
				t.Errorf("start through a %s was not refused", tc.name)
			}
			if got, err := greet(t, port); err != nil || got != "api" {
				t.Fatalf("the other workspace's forward answered %q, %v", got, err)
			}
		})
	}
	if st, err := other.Inspect(ctx, h); err != nil || !st.Alive {
		t.Fatalf("the other workspace's forward: %+v, %v", st, err)
	}
}

// TestAgentOutputNotFollowed: logs/agent.out that is a symbolic link (to
// a file outside) or a FIFO makes the start fail at once; the link's
// target is untouched. On main the target was truncated, and a FIFO hung
// the start (holding the workspace lock).
func TestAgentOutputNotFollowed(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(path string) error
	}{
		{"symlink", func(p string) error { return os.Symlink(outside, p) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, "v1")
			logs := filepath.Join(r.StateDir, "logs")
			if err := os.Mkdir(logs, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(filepath.Join(logs, "agent.out")); err != nil {
				t.Fatal(err)
			}
			started := make(chan error, 1)
			go func() {
				_, err := r.Start(context.Background(), spec("api", testutil.FreePort(t)))
				started <- err
			}()
			select {
			case err := <-started:
				if !errors.Is(err, safefs.ErrNotRegular) {
					t.Errorf("start with agent.out a %s: %v; want ErrNotRegular", tc.name, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("start with agent.out a %s hangs", tc.name)
			}
		})
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious\n" {
		t.Fatalf("the link's target changed to %q", b)
	}
}
