//go:build unix

package safefs

import (
	"errors"
	"fmt"
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

// TestCreateAppendMkdirRefuse: Create and Append neither follow a link
// (its target keeps its content) nor block on a FIFO; MkdirAll refuses a
// link to a directory; each works on the real thing.
func TestCreateAppendMkdirRefuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	target := filepath.Join(outside, "target")
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
	dirLink := filepath.Join(dir, "dirlink")
	if err := os.Symlink(outside, dirLink); err != nil {
		t.Fatal(err)
	}
	opens := map[string]func(string, os.FileMode) (*os.File, error){"Create": Create, "Append": Append}
	for name, open := range opens {
		for _, p := range []string{link, fifo} {
			f, err := open(p, 0o600)
			if err == nil {
				f.Close()
				t.Errorf("%s(%s) opened it", name, p)
			} else if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s(%s) = %v, want ErrNotRegular", name, p, err)
			}
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Fatalf("link target changed to %q", b)
	}
	if err := MkdirAll(dirLink, 0o700); !errors.Is(err, ErrNotDir) {
		t.Errorf("MkdirAll(link to a dir) = %v, want ErrNotDir", err)
	}
	if err := MkdirAll(filepath.Join(dir, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "a", "b", "f")
	for i, open := range []func(string, os.FileMode) (*os.File, error){Append, Append, Create} {
		f, err := open(p, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%d\n", i)
		f.Close()
	}
	if b, _ := os.ReadFile(p); string(b) != "2\n" {
		t.Errorf("after Append, Append, Create: %q", b)
	}
}
