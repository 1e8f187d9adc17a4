package state

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
		err  bool
	}{
		{"KPF_STATE_DIR wins", map[string]string{"KPF_STATE_DIR": "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s", false},
		{"XDG next", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/kpf", false},
		{"relative XDG ignored", map[string]string{"XDG_STATE_HOME": "x", "HOME": "/h"}, "/h/.local/state/kpf", false},
		{"HOME last", map[string]string{"HOME": "/h"}, "/h/.local/state/kpf", false},
		{"nothing", map[string]string{}, "", true},
	}
	for _, tc := range tests {
		got, err := Root(env(tc.env))
		if (err != nil) != tc.err || got != filepath.FromSlash(tc.want) {
			t.Errorf("%s: Root = %q, %v; want %q (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
	got, err := Root(env(map[string]string{"KPF_STATE_DIR": "rel"}))
	if err != nil || !filepath.IsAbs(got) {
		t.Errorf("relative KPF_STATE_DIR: %q, %v; want absolute", got, err)
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{"HOME": "/h"})
	a, err := Dir(e, "/work/shop")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/h/\.local/state/kpf/shop-[0-9a-f]{8}$`).MatchString(a) {
		t.Fatalf("Dir = %q", a)
	}
	again, _ := Dir(e, "/work/shop/")
	if again != a {
		t.Errorf("same workspace, different dirs: %q %q", a, again)
	}
	other, _ := Dir(e, "/other/shop")
	if other == a || !strings.Contains(other, "shop-") {
		t.Errorf("different workspaces share %q / got %q", a, other)
	}
	odd, _ := Dir(e, "/w/my shop/../we ird:name")
	if base := filepath.Base(odd); !regexp.MustCompile(`^we-ird-name-[0-9a-f]{8}$`).MatchString(base) {
		t.Errorf("unsafe name kept: %q", base)
	}
	root, _ := Dir(e, "/")
	if !regexp.MustCompile(`/[^/]+-[0-9a-f]{8}$`).MatchString(root) {
		t.Errorf("root workspace: %q", root)
	}
}
