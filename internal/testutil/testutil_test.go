package testutil

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.fatal = true
}
func (r *recorder) Fatal(args ...any) {
	r.errors = append(r.errors, fmt.Sprint(args...))
	r.fatal = true
}

func TestGolden(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := "testdata"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.golden")
	if err := os.WriteFile(path, []byte("want\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		got       string
		update    bool
		wantEqual bool
		wantFail  bool
		wantFile  string // path's content afterwards
	}{
		{name: "equal", path: "out.golden", got: "want\n", wantEqual: true, wantFile: "want\n"},
		{name: "differs", path: "out.golden", got: "other\n", wantFail: true, wantFile: "want\n"},
		{name: "missing", path: "none.golden", got: "x", wantFail: true},
		{name: "update writes", path: filepath.Join("sub", "new.golden"), got: "new\n", update: true, wantEqual: true, wantFile: "new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*update = tt.update
			defer func() { *update = false }()
			r := &recorder{TB: t}
			equal := Golden(r, tt.path, []byte(tt.got))
			if r.fatal {
				equal = false // Fatalf would have stopped the test there
			}
			if equal != tt.wantEqual || (len(r.errors) > 0) != tt.wantFail {
				t.Errorf("Golden = %v, failures %q; want %v, a failure: %v", equal, r.errors, tt.wantEqual, tt.wantFail)
			}
			if tt.wantFile != "" {
				if b, _ := os.ReadFile(filepath.Join(dir, tt.path)); string(b) != tt.wantFile {
					t.Errorf("file holds %q, want %q", b, tt.wantFile)
				}
			}
		})
	}
}

// TestFreePort: the port can be bound, and no port comes twice (the
// kernel often hands the port just closed out again).
func TestFreePort(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("the port FreePort returned cannot be bound: %v", err)
	}
	ln.Close()
	seen := map[int]bool{port: true}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("%d bytes written, want 800", n)
	}
}
