//go:build linux

package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestKubectlPlugin: the kpf binary installed as kubectl-kpf (linked, as
// krew installs it, or copied) is a kubectl plugin: run directly, and
// through kubectl's own plugin lookup on a $PATH that holds only it, its
// usage says `kubectl kpf`, `kubectl kpf version` answers, and `kubectl
// kpf apply` serves a forward of the native runtime (the agent started
// from the plugin) until `kubectl kpf destroy`.
func TestKubectlPlugin(t *testing.T) {
	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	kubectlPath, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err) // TestMain requires it
	}
	install := []struct {
		name    string
		install func(dst string) error
	}{
		{"linked like krew", func(dst string) error { return os.Symlink(bin, dst) }},
		{"copied", func(dst string) error { return copyFile(bin, dst) }},
	}
	for _, in := range install {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			pathDir := t.TempDir()
			plugin := filepath.Join(pathDir, "kubectl-kpf")
			if err := in.install(plugin); err != nil {
				t.Fatal(err)
			}
			ns := newNamespace(t)
			w := nativeWorkspace(t, ns)
			port := testutil.FreePort(t)
			w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "api" {
  target      = "service/api"
  context     = "kpf-local"
  namespace   = %q
  local_port  = %d
  remote_port = 8080
}
`, ns, port))
			// kubectl finds the plugin on $PATH, which holds nothing else.
			env := append(w.env(), "PATH="+pathDir)
			runIt := func(name string, args ...string) (int, string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, name, args...)
				cmd.Env, cmd.Dir = env, w.dir
				out, err := cmd.CombinedOutput()
				code := 0
				if err != nil {
					ee, ok := err.(*exec.ExitError)
					if !ok {
						t.Fatalf("%s %v: %v", name, args, err)
					}
					code = ee.ExitCode()
				}
				return code, string(out)
			}
			checks := []struct {
				argv []string
				code int
				want []string
			}{
				{[]string{plugin, "--help"}, 0, []string{"Usage:\n  kubectl kpf [command]", "  kubectl kpf apply --watch"}},
				{[]string{kubectlPath, "kpf", "--help"}, 0, []string{"Usage:\n  kubectl kpf [command]"}},
				{[]string{kubectlPath, "kpf", "plan", "--bogus"}, 1, []string{"Run 'kubectl kpf plan --help' for usage"}},
				{[]string{kubectlPath, "kpf", "version"}, 0, []string{"kpf ", "\ncommit ", "go1."}},
				{[]string{kubectlPath, "kpf", "apply"}, 0, []string{"1 started"}},
			}
			for _, c := range checks {
				code, out := runIt(c.argv[0], c.argv[1:]...)
				if code != c.code {
					t.Fatalf("%s: exit %d, want %d\n%s", strings.Join(c.argv[1:], " "), code, c.code, out)
				}
				for _, want := range c.want {
					if !strings.Contains(out, want) {
						t.Errorf("%s: output lacks %q:\n%s", strings.Join(c.argv[1:], " "), want, out)
					}
				}
			}
			ctx := testContext(t)
			if body, err := httpGetOnce(ctx, port, "/"); err != nil || !strings.HasPrefix(body, "api-") {
				t.Errorf("through the forward kubectl kpf applied: %q, %v; want an api pod", body, err)
			}
			if code, out := runIt(kubectlPath, "kpf", "destroy"); code != 0 || !strings.Contains(out, "1 stopped") {
				t.Errorf("kubectl kpf destroy: exit %d\n%s", code, out)
			}
			if !portFree(port) {
				t.Errorf("port %d is still bound after kubectl kpf destroy", port)
			}
		})
	}
}

// TestVersionFromBuildInfo: a kpf built without ldflags reports its
// version, commit and commit date from the Go build information: `go
// build` in a git clone of HEAD (vcs.revision, vcs.time), and `go install
// github.com/kpf-dev/kpf/cmd/kpf@<pseudo-version>` from a module proxy
// holding HEAD (as `go install ...@main` resolves it; a file:// proxy in
// front of the module cache, so nothing is downloaded).
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Skipf("not a git checkout (git %v: %v): nothing to stamp", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	head := git("rev-parse", "HEAD")
	commitTime, err := time.Parse(time.RFC3339, git("log", "-1", "--format=%cI"))
	if err != nil {
		t.Fatal(err)
	}
	commitDate := commitTime.UTC().Format(time.RFC3339)
	pseudo := module.PseudoVersion("v0", "", commitTime, head[:12])
	// A clone of HEAD: neither Go nor golang.org/x/mod/zip find the
	// repository of a git worktree (its .git is a file), and a clone has
	// none of the checkout's uncommitted changes.
	clone := t.TempDir()
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}

	tests := []struct {
		name  string
		build func(t *testing.T, dst string)
		want  map[string]any
	}{
		{
			name: "go build -buildvcs=true in a clone",
			build: func(t *testing.T, dst string) {
				// GOFLAGS may say -buildvcs=false (.ci/run): the flag wins.
				goCmd(t, clone, nil, "build", "-buildvcs=true", "-o", dst, "./cmd/kpf")
			},
			want: map[string]any{"commit": head, "date": commitDate, "modified": false},
		},
		{
			name: "go install @" + pseudo,
			build: func(t *testing.T, dst string) {
				proxy := t.TempDir()
				writeModuleProxy(t, proxy, clone, head, pseudo)
				gobin := t.TempDir()
				cache := filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")
				goCmd(t, t.TempDir(), []string{
					"GOPROXY=file://" + proxy + ",file://" + cache, "GOSUMDB=off", "GOFLAGS=",
					"GOWORK=off", "GOTOOLCHAIN=local", "GOBIN=" + gobin,
				}, "install", "github.com/kpf-dev/kpf/cmd/kpf@"+pseudo)
				if err := os.Rename(filepath.Join(gobin, "kpf"), dst); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]any{"version": pseudo, "commit": head[:12], "date": commitDate, "modified": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "kpf")
			tt.build(t, bin)
			out, err := exec.Command(bin, "version", "--json").Output()
			if err != nil {
				t.Fatalf("kpf version --json: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("kpf version --json: %v\n%s", err, out)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("kpf version --json: %s = %v, want %v\n%s", k, got[k], want, out)
				}
			}
			if v, _ := got["version"].(string); v == "" || v == "dev" {
				t.Errorf("kpf version --json: version %q, want the module's\n%s", v, out)
			}
			text, err := exec.Command(bin, "version").Output()
			if err != nil || !strings.Contains(string(text), "commit "+got["commit"].(string)) {
				t.Errorf("kpf version: %v\n%s", err, text)
			}
		})
	}
}

// writeModuleProxy lays out a GOPROXY directory serving the module at
// root, as of commit rev, as version v (what the public proxy serves for
// `go install github.com/kpf-dev/kpf/cmd/kpf@v`).
func writeModuleProxy(t *testing.T, proxy, root, rev, v string) {
	t.Helper()
	const path = "github.com/kpf-dev/kpf"
	dir := filepath.Join(proxy, path, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zipBuf bytes.Buffer
	if err := modzip.CreateFromVCS(&zipBuf, module.Version{Path: path, Version: v}, root, rev, ""); err != nil {
		t.Fatalf("zipping the module at %s: %v", rev, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipBuf.Bytes()), int64(zipBuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var gomod []byte
	for _, f := range zr.File {
		if f.Name == path+"@"+v+"/go.mod" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, err = b.ReadFrom(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			gomod = b.Bytes()
		}
	}
	if gomod == nil {
		t.Fatal("the module zip has no go.mod")
	}
	tm, err := module.PseudoVersionTime(v)
	if err != nil {
		t.Fatal(err)
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, v, tm.UTC().Format(time.RFC3339))
	for name, data := range map[string][]byte{
		"list": []byte(v + "\n"), v + ".info": []byte(info), v + ".mod": gomod, v + ".zip": zipBuf.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// repoRoot is the directory of kpf's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	gomod := goEnv(t, "GOMOD")
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not in kpf's module")
	}
	return filepath.Dir(gomod)
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// goCmd runs the go command in dir with env added, failing t on an error.
func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
