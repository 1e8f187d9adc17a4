//go:build unix

package native

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// TestRotatingNotFollowed: agent.log that is a symbolic link (to a file
// outside) or a FIFO is refused at once; the link's target is untouched.
// On main the link's target was appended to, and a FIFO hung the agent.
func TestRotatingNotFollowed(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo} {
		opened := make(chan error, 1)
		go func() {
			r, err := OpenRotating(p, 100)
			if err == nil {
				_, _ = r.Write([]byte("overwritten\n"))
				r.Close()
			}
			opened <- err
		}()
		select {
		case err := <-opened:
			if !errors.Is(err, safefs.ErrNotRegular) {
				t.Errorf("OpenRotating(%s) = %v, want ErrNotRegular", p, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("OpenRotating(%s) hangs", p)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious\n" {
		t.Fatalf("the link's target changed to %q", b)
	}
}
