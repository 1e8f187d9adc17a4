//go:build unix

package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// TestLockSymlinkNotFollowed: a lock file replaced by a link to another
// file makes Lock fail; the target is not truncated.
func TestLockSymlinkNotFollowed(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(s.Dir(), LockFile)); err != nil {
		t.Fatal(err)
	}
	if unlock, err := s.Lock(t.Context(), 0); err == nil {
		unlock()
		t.Fatal("Lock took a symlinked lock file")
	} else if !errors.Is(err, safefs.ErrNotRegular) {
		t.Errorf("Lock err = %v, want ErrNotRegular", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Fatalf("lock symlink target changed to %q", b)
	}
}

// TestStateFileLinkAndFIFO: a state.json that is a link is not read (nor
// overwritten by Save); one that is a FIFO fails at once instead of
// hanging.
func TestStateFileLinkAndFIFO(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	target := filepath.Join(t.TempDir(), "other.json")
	const other = `{"version": 2, "forwards": {}}`
	if err := os.WriteFile(target, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, safefs.ErrNotRegular) {
		t.Errorf("Load through a link = %v, want ErrNotRegular", err)
	}
	if err := s.Save(sample(1)); err == nil {
		t.Error("Save replaced a linked state file")
	}
	if b, _ := os.ReadFile(target); string(b) != other {
		t.Fatalf("link target changed to %q", b)
	}

	f := openStore(t)
	if err := syscall.Mkfifo(f.Path(), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := f.Load(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, safefs.ErrNotRegular) {
			t.Errorf("Load of a FIFO = %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load of a FIFO state file hangs")
	}
}

// TestSymlinkedWorkspaceDirRefused: a workspace state directory that is a
// link to another directory is refused; the target is neither chmod-ed
// nor filled.
func TestSymlinkedWorkspaceDirRefused(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	target := t.TempDir()
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(root, "shop-1234abcd")
	if err := os.Symlink(target, ws); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ws); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Open of a linked workspace dir = %v, want refused", err)
	}
	if m := mode(t, target); m != 0o755 {
		t.Errorf("link target mode changed to %v", m)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("link target filled: %v", ents)
	}
	// The logs directory too.
	ws2 := filepath.Join(root, "web-1234abcd")
	if err := os.Mkdir(ws2, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(ws2, LogsDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ws2); err == nil {
		t.Fatal("Open accepted a linked logs directory")
	}
	if m := mode(t, target); m != 0o755 {
		t.Errorf("logs link target mode changed to %v", m)
	}
}

// TestRootChecks: a state root writable by others, or another user's, is
// refused; one reached through a link is fine.
func TestRootChecks(t *testing.T) {
	t.Parallel()
	open := func(root string) error {
		_, err := Open(filepath.Join(root, "ws-1234abcd"))
		return err
	}
	for _, m := range []os.FileMode{0o777, 0o775, 0o1777} {
		root := t.TempDir()
		if err := os.Chmod(root, m); err != nil {
			t.Fatal(err)
		}
		if err := open(root); err == nil || !strings.Contains(err.Error(), "writable by others") {
			t.Errorf("root mode %v: Open = %v, want refused", m, err)
		}
		if _, err := List(root); err == nil || !strings.Contains(err.Error(), "writable by others") {
			t.Errorf("root mode %v: List = %v, want refused", m, err)
		}
	}
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := open(link); err != nil {
		t.Errorf("root through a link: %v", err)
	}
	if os.Getuid() == 0 {
		root := t.TempDir()
		if err := os.Chown(root, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := open(root); err == nil || !strings.Contains(err.Error(), "belongs to user 65534") {
			t.Errorf("another user's root: Open = %v, want refused", err)
		}
		ws := filepath.Join(t.TempDir(), "ws-1234abcd")
		if err := os.Mkdir(ws, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(ws, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ws); err == nil || !strings.Contains(err.Error(), "belongs to user 65534") {
			t.Errorf("another user's workspace dir: Open = %v, want refused", err)
		}
	}
}

// TestDirResolvesLinks: a workspace reached through a link has the state
// directory of its target.
func TestDirResolvesLinks(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	ws := filepath.Join(base, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "wslink")
	if err := os.Symlink(ws, link); err != nil {
		t.Fatal(err)
	}
	e := env(map[string]string{"HOME": "/h"})
	a, err := Dir(e, ws)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Dir(e, link)
	if err != nil || a != b {
		t.Fatalf("Dir(ws) = %q, Dir(wslink) = %q, %v; want the same", a, b, err)
	}
}
