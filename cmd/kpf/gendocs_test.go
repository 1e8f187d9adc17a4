//go:build releasedocs

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseDocs: the generator writes every completion and one man page
// per visible command, byte for byte the same on a second run (-tags
// releasedocs; make release-check runs it).
func TestReleaseDocs(t *testing.T) {
	gen := func() string {
		dir := t.TempDir()
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"__release-docs", dir}, streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" }); code != exitOK {
			t.Fatalf("__release-docs: exit %d\n%s%s", code, out.String(), errb.String())
		}
		return dir
	}
	a, b := gen(), gen()
	tests := []struct {
		file string
		want string
	}{
		{"completions/kpf.bash", "__start_kpf"},
		{"completions/kpf.zsh", "#compdef kpf"},
		{"completions/kpf.fish", "complete -c kpf"},
		{"completions/kpf.ps1", "Register-ArgumentCompleter"},
		{"man/kpf.1.gz", `.TH "KPF" "1"`},
		{"man/kpf-apply.1.gz", "kpf-apply - "},
		{"man/kpf-version.1.gz", `\fB--json\fP`},
		{"man/kpf-completion.1.gz", "kpf completion"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := readDoc(t, filepath.Join(a, tt.file))
			if !strings.Contains(got, tt.want) {
				t.Errorf("%s lacks %q:\n%.400s", tt.file, tt.want, got)
			}
			ra, _ := os.ReadFile(filepath.Join(a, tt.file))
			rb, _ := os.ReadFile(filepath.Join(b, tt.file))
			if !bytes.Equal(ra, rb) {
				t.Errorf("%s differs between two runs: not reproducible", tt.file)
			}
		})
	}
	pages, _ := filepath.Glob(filepath.Join(a, "man", "*.1.gz"))
	for _, p := range pages {
		if n := filepath.Base(p); n == "kpf-agent.1.gz" || n == "kpf-__release-docs.1.gz" || n == "kpf-help.1.gz" {
			t.Errorf("man page for a hidden command: %s", n)
		}
	}
	if len(pages) < 12 {
		t.Errorf("%d man pages, want one per command (12): %v", len(pages), pages)
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(data)
}
