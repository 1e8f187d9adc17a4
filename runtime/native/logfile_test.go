package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotating: past its limit the log moves to .1 (replacing the one
// before) and a fresh file continues; nothing written is lost in between.
func TestRotating(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.log")
	r, err := OpenRotating(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for range 7 {
		if _, err := r.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p + ".1")
	if err != nil {
		t.Fatal(err)
	}
	// 7 lines: [1 2] rotated, [3 4] rotated over it, [5 6] rotated, [7] current.
	if len(cur) != 40 || len(old) != 80 {
		t.Errorf("current %d bytes, .1 %d bytes; want 40 and 80", len(cur), len(old))
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	// Reopening continues the current file.
	r, err = OpenRotating(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if cur, _ := os.ReadFile(p); len(cur) != 80 {
		t.Errorf("after reopen: %d bytes, want 80", len(cur))
	}
}
