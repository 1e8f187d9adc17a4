//go:build unix

package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenFileRefuses: a symbolic link is not followed (its target is
// neither truncated nor appended to), a FIFO does not block, a directory
// is refused; a regular file opens.
func TestOpenFileRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		flag int
	}{
		{link, os.O_RDWR | os.O_CREATE | os.O_TRUNC},
		{link, os.O_WRONLY | os.O_APPEND | os.O_CREATE},
		{link, os.O_RDONLY},
		{fifo, os.O_RDONLY},
		{dir, os.O_RDONLY},
	} {
		f, err := OpenFile(tc.path, tc.flag, 0o600)
		if err == nil {
			f.Close()
			t.Errorf("OpenFile(%s, %#x) opened it", tc.path, tc.flag)
			continue
		}
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("OpenFile(%s) = %v, want ErrNotRegular", tc.path, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Fatalf("link target changed to %q", b)
	}
	if _, err := ReadFile(fifo); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(fifo) = %v", err)
	}
	b, err := ReadFile(target)
	if err != nil || string(b) != "precious\n" {
		t.Fatalf("ReadFile(regular) = %q, %v", b, err)
	}
}
