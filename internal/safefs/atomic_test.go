//go:build unix

package safefs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomic: the file ends up 0600 with the new bytes whatever
// stood at its path (nothing, an older file, a link, whose target is left
// alone), and no temporary file is left beside it, also when the write
// fails.
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir, path string) // what stands at path before
		wantErr bool
	}{
		{name: "new file"},
		{name: "replaces a file", prepare: func(t *testing.T, _, path string) {
			writeFile(t, path, "old", 0o644)
		}},
		{name: "replaces a link, never follows it", prepare: func(t *testing.T, dir, path string) {
			target := filepath.Join(dir, "precious")
			writeFile(t, target, "precious", 0o644)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a directory at the path: refused", wantErr: true, prepare: func(t *testing.T, _, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(path, "inside"), "kept", 0o600)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if tt.prepare != nil {
				tt.prepare(t, dir, path)
			}
			err := WriteFileAtomic(path, []byte("new"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("WriteFileAtomic: %v, want an error: %v", err, tt.wantErr)
			}
			if tmps, _ := filepath.Glob(filepath.Join(dir, ".state.json.*.tmp")); len(tmps) > 0 {
				t.Errorf("temporary files left: %q", tmps)
			}
			if precious := filepath.Join(dir, "precious"); fileExists(precious) {
				if b, _ := os.ReadFile(precious); string(b) != "precious" {
					t.Errorf("the link's target was written: %q", b)
				}
			}
			if tt.wantErr {
				if b, err := os.ReadFile(filepath.Join(path, "inside")); err != nil || string(b) != "kept" {
					t.Errorf("what stood at the path changed: %q, %v", b, err)
				}
				return
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want a regular file 0600", fi.Mode())
			}
			if b, _ := os.ReadFile(path); string(b) != "new" {
				t.Errorf("content %q, want %q", b, "new")
			}
		})
	}
}

// TestWriteFileAtomicMissingDir: no directory, no file and an error.
func TestWriteFileAtomicMissingDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gone", "state.json")
	if err := WriteFileAtomic(path, []byte("x")); err == nil {
		t.Fatal("WriteFileAtomic into a missing directory: no error")
	}
}

func writeFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
