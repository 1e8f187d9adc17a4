package names

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	add := func(old []byte) []byte { return Edit(old, ws, apiEntries) }
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr error
		want    string
		backup  string // "" = none
	}{
		{name: "missing file created", setup: func(*testing.T, string) {}, want: block(ws, "\n", "127.77.1.2\tapi api.shop")},
		{
			name:  "foreign lines kept, backup of the previous file",
			setup: func(t *testing.T, p string) { write(t, p, "127.0.0.1 localhost\n", 0o644) },
			want:  "127.0.0.1 localhost\n" + block(ws, "\n", "127.77.1.2\tapi api.shop"), backup: "127.0.0.1 localhost\n",
		},
		{
			name: "symbolic link refused",
			setup: func(t *testing.T, p string) {
				write(t, p+".real", "x\n", 0o644)
				if err := os.Symlink(p+".real", p); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrRefused,
		},
		{name: "read-only file refused", setup: func(t *testing.T, p string) { write(t, p, "x\n", 0o444) }, wantErr: ErrRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hosts")
			tc.setup(t, path)
			before, _ := os.ReadFile(path)
			_, err := Update(path, add)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if after, _ := os.ReadFile(path); string(after) != string(before) {
					t.Errorf("a refused file was changed: %q", after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("file = %q, want %q", got, tc.want)
			}
			bak, err := os.ReadFile(path + BackupSuffix)
			if tc.backup == "" && err == nil || tc.backup != "" && string(bak) != tc.backup {
				t.Errorf("backup = %q (%v), want %q", bak, err, tc.backup)
			}
			if changed, err := Update(path, add); err != nil || changed {
				t.Errorf("a second update changed %v (%v)", changed, err)
			}
			ents, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range ents {
				if strings.Contains(e.Name(), ".kpf-") && !strings.HasSuffix(e.Name(), BackupSuffix) {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}

func TestUpdateNeedsPrivilege(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write any file: run as a user to test the refusal")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	write(t, path, "x\n", 0o644)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err := Update(path, func(old []byte) []byte { return Edit(old, ws, apiEntries) })
	if !errors.Is(err, ErrNeedsPrivilege) {
		t.Fatalf("err = %v, want ErrNeedsPrivilege", err)
	}
}

// TestUpdateConcurrentWriters: writers of different workspaces at once,
// each re-reading under the lock, lose none of the others' blocks.
func TestUpdateConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	write(t, path, "127.0.0.1 localhost\n", 0o644)
	var wg sync.WaitGroup
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("/ws/%02d", i)
			_, err := Update(path, func(old []byte) []byte {
				return Edit(old, key, []Entry{{Address: "127.77.0." + strconv.Itoa(i+1), Names: []string{fmt.Sprintf("svc%d", i)}}})
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	keys := Keys(got)
	slices.Sort(keys)
	if len(keys) != n || !strings.HasPrefix(string(got), "127.0.0.1 localhost\n") {
		t.Errorf("%d blocks after %d writers, file:\n%s", len(keys), n, got)
	}
}

// TestUpdateKilled kills a process that rewrites the hosts file in a
// loop with SIGKILL at many points: the file is always one whole version,
// old or new, never a part.
func TestUpdateKilled(t *testing.T) {
	if os.Getenv("KPF_NAMES_WRITER") != "" {
		path := os.Getenv("KPF_NAMES_WRITER")
		for i := 0; ; i++ {
			_, err := Update(path, func(old []byte) []byte {
				return Edit(old, ws, []Entry{{Address: "127.77.0.1", Names: []string{"v" + strconv.Itoa(i%2) + strings.Repeat("x", 1<<16)}}})
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "hosts")
	head := "127.0.0.1 localhost\n"
	write(t, path, head, 0o644)
	for range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUpdateKilled$")
		cmd.Env = append(os.Environ(), "KPF_NAMES_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it once it has written the file once (its backup then
		// holds a block), somewhere in a later write.
		for {
			b, _ := os.ReadFile(path + BackupSuffix)
			if len(Keys(b)) > 0 {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		keys := Keys(got)
		if !strings.HasPrefix(string(got), head) || len(keys) != 1 || !strings.HasSuffix(string(got), endPrefix+ws+"\n") {
			t.Fatalf("after a kill the file is not whole (%d bytes, blocks %q)", len(got), keys)
		}
		os.Remove(path + BackupSuffix)
	}
}

func write(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
