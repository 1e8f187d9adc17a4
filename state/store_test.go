package state

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ws-1234abcd"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sample(n int) *File {
	f := &File{Workspace: "/work/shop", Name: "shop", Forwards: map[string]Forward{}}
	for i := range n {
		name := fmt.Sprintf("fwd%d", i)
		f.Forwards[name] = Forward{
			Name: name, Handle: runtime.Handle{Runtime: "kubectl", ID: strconv.Itoa(1000 + i), Data: runtime.Data(fmt.Sprintf(`{"pid":%d,"start_time":%d}`, 1000+i, 5000+i))},
			SpecHash: "h", Target: "service/" + name, Context: "kind-dev", Namespace: "shop",
			Address: "127.0.0.1", RemotePort: "80", LocalPort: 8000 + i, StartedAt: time.Unix(1700000000, 0).UTC(),
		}
	}
	return f
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "ws")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // wider than allowed
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(sample(1)); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for p, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, LogsDir): 0o700,
		s.Path(): 0o600, filepath.Join(dir, LockFile): 0o600,
	} {
		if got := mode(t, p); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	if got, want := s.LogPath("api"), filepath.Join(dir, "logs", "api.log"); got != want {
		t.Errorf("LogPath = %q, want %q", got, want)
	}
	if got := s.LogPath("../../etc/passwd"); filepath.Dir(got) != filepath.Join(dir, "logs") {
		t.Errorf("LogPath escapes logs dir: %q", got)
	}
}

func TestLoadMissingAndRoundTrip(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != Version || f.Forwards == nil || len(f.Forwards) != 0 {
		t.Fatalf("empty load = %+v", f)
	}
	want := sample(3)
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want.Version = Version
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Fatalf("round trip\n got %s\nwant %s", gb, wb)
	}
	if ents, _ := os.ReadDir(s.Dir()); len(ents) != 2 { // state.json, logs
		t.Errorf("temp files left behind: %v", ents)
	}
}

func TestUnloadableFileIsKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		msg     string
	}{
		{"corrupt", `{"version": 1, "forwards": {`, "corrupt"},
		{"not json", "hello", "corrupt"},
		{"no version", `{"forwards": {}}`, "no version"},
		{"newer", `{"version": 99, "forwards": {}, "future": true}`, "written by a newer kpf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			if err := os.WriteFile(s.Path(), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), s.Path()) {
				t.Fatalf("Load err = %v, want %q naming %s", err, tc.msg, s.Path())
			}
			if err := s.Save(sample(1)); err == nil {
				t.Fatal("Save overwrote a file it could not load")
			}
			b, _ := os.ReadFile(s.Path())
			if string(b) != tc.content {
				t.Fatalf("file changed to %q", b)
			}
		})
	}
}

// A reader never sees a partial file while saves replace it.
func TestAtomicSaveConcurrentReader(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if err := s.Save(sample(50)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	reads := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			f, err := s.Load()
			if err != nil {
				readErr = err
				return
			}
			if n := len(f.Forwards); n != 50 && n != 80 {
				readErr = fmt.Errorf("read %d forwards", n)
				return
			}
			reads++
		}
	})
	for i := range 40 {
		if err := s.Save(sample(50 + 30*(i%2))); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("concurrent reader: %v", readErr)
	}
	if reads == 0 {
		t.Fatal("reader never ran")
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, w := range []struct{ dir, name, content string }{
		{"b-1", "zeta", ""}, {"a-2", "alpha", ""}, {"bad-3", "", "{"}, {"empty-4", "", "-"},
	} {
		s, err := Open(filepath.Join(root, w.dir))
		if err != nil {
			t.Fatal(err)
		}
		switch w.content {
		case "":
			f := sample(1)
			f.Name = w.name
			if err := s.Save(f); err != nil {
				t.Fatal(err)
			}
		case "-": // no state file yet
		default:
			if err := os.WriteFile(s.Path(), []byte(w.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stray"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := List(root)
	if err == nil || !strings.Contains(err.Error(), "bad-3") {
		t.Errorf("List err = %v, want the corrupt one reported", err)
	}
	if len(files) != 2 || files[0].Name != "alpha" || files[1].Name != "zeta" {
		t.Fatalf("List = %+v", files)
	}
	if files, err := List(filepath.Join(root, "none")); err != nil || len(files) != 0 {
		t.Fatalf("missing root: %v, %v", files, err)
	}
}

func TestSaveSetsVersion(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	f := sample(0)
	f.Version = 0
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil || got.Version != Version {
		t.Fatalf("saved version %v, %v", got, err)
	}
}

// TestSizeCap: a state file over MaxFileSize is refused before it is read
// (the error names the file, its size and the cap, and the file is left as
// is); one at the cap loads; and 1,000 forwards stay far below it.
func TestSizeCap(t *testing.T) {
	t.Parallel()
	valid := `{"version": 2, "forwards": {}}`
	tests := []struct {
		name   string
		size   int64
		sparse bool // a hole, not bytes: the content is never read
		ok     bool
	}{
		{"at the cap", MaxFileSize, false, true},
		{"one byte over", MaxFileSize + 1, false, false},
		{"64 MiB", 64 << 20, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			if tc.sparse {
				if err := os.WriteFile(s.Path(), []byte(valid), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(s.Path(), tc.size); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(s.Path(), []byte(valid+strings.Repeat(" ", int(tc.size)-len(valid))), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if tc.ok {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			for _, want := range []string{s.Path(), strconv.FormatInt(tc.size, 10), strconv.Itoa(MaxFileSize), "move it away"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Load err = %v, want it to say %q", err, want)
				}
			}
			if err := s.Save(sample(1)); err == nil {
				t.Fatal("Save overwrote a file it refused to read")
			}
			if fi, err := os.Stat(s.Path()); err != nil || fi.Size() != tc.size {
				t.Fatalf("file changed: %v, %v", fi, err)
			}
		})
	}
	t.Run("1000 forwards", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		if err := s.Save(sample(1000)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > MaxFileSize/8 {
			t.Errorf("1,000 forwards take %d bytes, more than an eighth of MaxFileSize", fi.Size())
		}
		if _, err := s.Load(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSaveRefusesOverCap: a state that would not load again is not written.
func TestSaveRefusesOverCap(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	f := sample(1)
	fw := f.Forwards["fwd0"]
	fw.LastError = strings.Repeat("x", MaxFileSize)
	f.Forwards["fwd0"] = fw
	if err := s.Save(f); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Save = %v, want a refusal", err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("state file written: %v", err)
	}
}

// TestOpenReadOnly: a read-only store creates, tightens and locks nothing:
// a missing root or workspace directory reads as no state; an existing one
// is read; Save and Lock fail; a link is refused as Open refuses it.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, root string) // root's parent exists
		wantErr string
		wantN   int
	}{
		{"no root", func(*testing.T, string) {}, "", 0},
		{"no workspace", func(t *testing.T, root string) { mkdir(t, root, 0o700) }, "", 0},
		{"state", func(t *testing.T, root string) {
			mkdir(t, root, 0o700)
			s, err := Open(filepath.Join(root, "ws"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Save(sample(2)); err != nil {
				t.Fatal(err)
			}
		}, "", 2},
		{"loose mode kept", func(t *testing.T, root string) {
			mkdir(t, root, 0o700)
			mkdir(t, filepath.Join(root, "ws"), 0o755)
		}, "", 0},
		{"link", func(t *testing.T, root string) {
			mkdir(t, root, 0o700)
			if err := os.Symlink(t.TempDir(), filepath.Join(root, "ws")); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "kpf")
			tc.prepare(t, root)
			before := tree(t, filepath.Dir(root))
			s, err := OpenReadOnly(filepath.Join(root, "ws"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("OpenReadOnly err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := s.Load()
			if err != nil || len(f.Forwards) != tc.wantN {
				t.Fatalf("Load = %v, %v; want %d forwards", f, err, tc.wantN)
			}
			if err := s.Save(f); err == nil {
				t.Error("Save on a read-only store succeeded")
			}
			if unlock, err := s.Lock(t.Context(), 0); err == nil {
				unlock()
				t.Error("Lock on a read-only store succeeded")
			}
			if after := tree(t, filepath.Dir(root)); after != before {
				t.Errorf("the state tree changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func mkdir(t *testing.T, dir string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
}

// tree lists every path under dir with its mode and size.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
