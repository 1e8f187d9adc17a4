package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// usePrefetcher makes Load take from a fresh prefetcher for the test.
func usePrefetcher(t *testing.T) *prefetcher {
	t.Helper()
	p, old := new(prefetcher), early
	early = p
	t.Cleanup(func() { early = old })
	return p
}

// wait waits for p's prefetch to finish.
func (p *prefetcher) wait() {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	<-done
}

// loadResult is everything a Load returns, as text to compare.
func loadResult(t *testing.T, dir string) string {
	t.Helper()
	l := NewLoader()
	ws, diags := l.Load(LoadOptions{Dir: dir})
	js, err := json.Marshal(ws)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for name, f := range l.Files() {
		files = append(files, name+"="+string(f.Bytes))
	}
	sort.Strings(files)
	return string(js) + "\n" + FormatDiagnosticsPlain(diags) + "\n" + strings.Join(files, "\n")
}

func TestPrefetch(t *testing.T) {
	const forward = "forward \"api\" {\n  target      = \"service/api\"\n  context     = \"dev\"\n  local_port  = 8080\n  remote_port = 80\n}\n"
	deep := "locals {\n  x = " + strings.Repeat("[", MaxNestingDepth+1) + strings.Repeat("]", MaxNestingDepth+1) + "\n}\n" + forward
	tests := []struct {
		name  string
		files map[string]string
		// change runs after the prefetch and before the load.
		change func(t *testing.T, dir string)
		// other prefetches this workspace instead of the one loaded.
		other map[string]string
		taken int
	}{
		{name: "one file", files: map[string]string{"kpf.hcl": forward}, taken: 1},
		{name: "overrides", files: map[string]string{
			"kpf.hcl":              forward,
			"db.kpf.hcl":           strings.ReplaceAll(strings.ReplaceAll(forward, "api", "db"), "8080", "5432"),
			"me.override.kpf.hcl":  "forward \"api\" {\n  local_port = 9090\n}\n",
			".hidden.kpf.hcl":      "not hcl {",
			"backup.kpf.hcl~":      "not hcl {",
			"unrelated-notes.hcl":  "not hcl {",
			"me.override.kpf.hcl~": "not hcl {",
		}, taken: 3},
		{name: "syntax error", files: map[string]string{"kpf.hcl": forward + "forward \"db\" {\n  target = \n"}, taken: 1},
		{name: "warning", files: map[string]string{"kpf.hcl": strings.Replace(forward, "local_port  = 8080", "local_port  = 8080\n  address     = \"0.0.0.0\"", 1)}, taken: 1},
		{name: "nested too deeply", files: map[string]string{"kpf.hcl": deep}, taken: 0},
		{name: "file changed after the prefetch", files: map[string]string{"kpf.hcl": forward},
			change: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "kpf.hcl"), strings.Replace(forward, "8080", "8081", 1))
			}, taken: 0},
		{name: "file removed after the prefetch", files: map[string]string{"kpf.hcl": forward, "db.kpf.hcl": forward},
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "db.kpf.hcl")); err != nil {
					t.Fatal(err)
				}
			}, taken: 1},
		{name: "another workspace, same bytes", files: map[string]string{"kpf.hcl": forward},
			other: map[string]string{"kpf.hcl": forward}, taken: 1},
		{name: "another workspace, other bytes", files: map[string]string{"kpf.hcl": forward},
			other: map[string]string{"kpf.hcl": strings.Replace(forward, "api", "web", 1)}, taken: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			from := dir
			if tt.other != nil {
				from = writeFiles(t, tt.other)
			}
			p := usePrefetcher(t)
			p.start(from)
			p.wait()
			if tt.change != nil {
				tt.change(t, dir)
			}
			got := loadResult(t, dir)
			if p.taken != tt.taken {
				t.Errorf("Load took %d prefetched parses, want %d", p.taken, tt.taken)
			}
			usePrefetcher(t) // none
			if want := loadResult(t, dir); got != want {
				t.Errorf("Load after a prefetch differs from a Load without:\n--- with ---\n%s\n--- without ---\n%s", got, want)
			}
		})
	}
}

// TestPrefetchTakenOnce: a second Load (a watch's reload) parses afresh,
// and sees what changed since.
func TestPrefetchTakenOnce(t *testing.T) {
	const forward = "forward \"api\" {\n  target      = \"service/api\"\n  context     = \"dev\"\n  local_port  = 8080\n  remote_port = 80\n}\n"
	dir := writeFiles(t, map[string]string{"kpf.hcl": forward})
	p := usePrefetcher(t)
	p.start(dir)
	p.start(t.TempDir()) // does nothing: one prefetch per process
	mustLoad(t, LoadOptions{Dir: dir})
	write(t, filepath.Join(dir, "kpf.hcl"), strings.Replace(forward, "8080", "8081", 1))
	ws := mustLoad(t, LoadOptions{Dir: dir})
	if p.taken != 1 || ws.Forwards[0].LocalPort != 8081 {
		t.Errorf("took %d prefetched parses and loaded port %d; want 1 and 8081", p.taken, ws.Forwards[0].LocalPort)
	}
}

// TestPrefetchWhileLoading starts Load while the prefetch is under way, as
// kpf does when the process starts faster than the spec parses: Load must
// wait for the prefetch's parses rather than miss them, and get what it
// would have parsed itself. Run it with -race.
func TestPrefetchWhileLoading(t *testing.T) {
	files := map[string]string{"kpf.hcl": generatedSpec(100)}
	for i := range 4 {
		name := fmt.Sprintf("extra%d", i)
		files[name+".kpf.hcl"] = fmt.Sprintf("forward %q {\n  target      = \"service/%s\"\n  local_port  = %d\n  remote_port = 80\n}\n", name, name, 40000+i)
	}
	dir := writeFiles(t, files)
	usePrefetcher(t)
	want := loadResult(t, dir)
	for range 5 {
		p := usePrefetcher(t)
		p.start(dir)
		if got := loadResult(t, dir); got != want {
			t.Fatalf("Load during a prefetch differs from a Load without:\n--- with ---\n%s\n--- without ---\n%s", got, want)
		}
		if p.taken != len(files) {
			t.Fatalf("Load took %d prefetched parses, want %d: it did not wait for the prefetch", p.taken, len(files))
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPrefetchDroppedAfterLoad: the first Load drops what it did not take
// (here a file removed since), so that the process does not keep it, and a
// Load before any prefetch drops nothing.
func TestPrefetchDroppedAfterLoad(t *testing.T) {
	const forward = "forward \"api\" {\n  target      = \"service/api\"\n  context     = \"dev\"\n  local_port  = 8080\n  remote_port = 80\n}\n"
	db := strings.ReplaceAll(strings.Replace(forward, "8080", "5432", 1), "api", "db")
	dir := writeFiles(t, map[string]string{"kpf.hcl": forward, "db.kpf.hcl": db})
	other := writeFiles(t, map[string]string{"kpf.hcl": strings.Replace(forward, "8080", "8081", 1)})
	p := usePrefetcher(t)
	mustLoad(t, LoadOptions{Dir: other}) // before the prefetch
	p.start(dir)
	p.wait()
	if err := os.Remove(filepath.Join(dir, "db.kpf.hcl")); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, LoadOptions{Dir: dir})
	p.mu.Lock()
	left := len(p.parsed)
	p.mu.Unlock()
	if p.taken != 1 || left != 0 {
		t.Errorf("took %d prefetched parses and kept %d; want 1 and 0", p.taken, left)
	}
}
