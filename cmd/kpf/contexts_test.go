package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/spec"
)

func writeKubeconfig(t *testing.T, path, current, devNamespace string) {
	t.Helper()
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts:
- {name: dev, context: {cluster: c, user: u, namespace: ` + devNamespace + `}}
- {name: prod, context: {cluster: c, user: u}}
- {name: kind-staging, context: {cluster: c, user: u}}
current-context: ` + current + "\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestContextResolverPinsAndCaches: the current context is pinned once and
// kept when it changes later; the kubeconfig is read again only when its
// file changes; namespaces default to the context's, then "default"; an
// unknown context is reported with its place and the closest known one.
func TestContextResolverPinsAndCaches(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	writeKubeconfig(t, kubeconfig, "dev", "shop")
	a := &app{opts: globalOptions{Kubeconfig: kubeconfig}, getenv: func(string) string { return "" }, log: hclog.NewNullLogger()}
	r := a.newContextResolver()
	fs := []spec.Forward{
		{Name: "a", Enabled: true},
		{Name: "b", Enabled: true, Context: "prod"},
		{Name: "c", Enabled: true, Namespace: "data"},
	}
	ctx := context.Background()
	check := func(want map[string]string) {
		t.Helper()
		got, err := r.resolve(ctx, fs)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			if s := f.Context + "/" + f.Namespace; s != want[f.Name] {
				t.Errorf("forward %s resolved to %s, want %s", f.Name, s, want[f.Name])
			}
		}
	}
	check(map[string]string{"a": "dev/shop", "b": "prod/default", "c": "dev/data"})
	if r.loads != 1 {
		t.Fatalf("kubeconfig read %d times, want 1", r.loads)
	}
	check(map[string]string{"a": "dev/shop", "b": "prod/default", "c": "dev/data"})
	if r.loads != 1 {
		t.Errorf("kubeconfig read %d times for an unchanged file, want 1", r.loads)
	}
	// A context switch in another terminal, and a namespace change.
	writeKubeconfig(t, kubeconfig, "prod", "web")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(kubeconfig, later, later); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"a": "dev/web", "b": "prod/default", "c": "dev/data"})
	if r.loads != 2 {
		t.Errorf("kubeconfig read %d times after it changed, want 2", r.loads)
	}

	fs = append(fs, spec.Forward{Name: "d", Enabled: true, Context: "kind-stagin", Decl: spec.Pos{File: "kpf.hcl", Line: 9, Column: 1}})
	_, err := r.resolve(ctx, fs)
	if err == nil || !strings.Contains(err.Error(), `kpf.hcl:9:1: forward "d": context "kind-stagin" is not in the kubeconfig (did you mean "kind-staging"? contexts: dev, kind-staging, prod)`) {
		t.Errorf("unknown context: err = %v", err)
	}
}

// TestKubeconfigStamp: the stamp follows the files kubectl reads, and
// changes when any of them changes.
func TestKubeconfigStamp(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	tests := []struct {
		name    string
		r       contextResolver
		touched string // a file whose change must change the stamp
	}{
		{"flag", contextResolver{source: kubeconfig.Source{Explicit: a, Env: b}}, a},
		{"env list", contextResolver{source: kubeconfig.Source{Env: a + string(filepath.ListSeparator) + b}}, b},
		{"home", contextResolver{source: kubeconfig.Source{Home: home}}, filepath.Join(home, ".kube", "config")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.r.kubeconfigStamp()
			if before == "" {
				t.Fatal("no stamp")
			}
			if err := os.MkdirAll(filepath.Dir(tt.touched), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tt.touched, []byte("changed"), 0o600); err != nil {
				t.Fatal(err)
			}
			if after := tt.r.kubeconfigStamp(); after == before {
				t.Errorf("stamp unchanged after %s changed: %s", tt.touched, after)
			}
		})
	}
	if s := (&contextResolver{}).kubeconfigStamp(); s != "" {
		t.Errorf("no kubeconfig and no home: stamp %q, want \"\" (always re-read)", s)
	}
}

// TestUnknownContextsGrouped: many forwards naming one unknown context give
// one error, and a kubeconfig with no contexts at all says so once.
func TestUnknownContextsGrouped(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	writeKubeconfig(t, kc, "dev", "shop")
	var fs []spec.Forward
	for i := range 5 {
		fs = append(fs, spec.Forward{Name: "f" + strconv.Itoa(i), Enabled: true, Context: "prd", Decl: spec.Pos{File: "kpf.hcl", Line: 1 + i, Column: 1}})
	}
	a := &app{opts: globalOptions{Kubeconfig: kc}, getenv: func(string) string { return "" }, log: hclog.NewNullLogger()}
	_, err := a.newContextResolver().resolve(context.Background(), fs)
	want := `kpf.hcl:1:1: forward "f0" and 4 more: context "prd" is not in the kubeconfig (did you mean "prod"?`
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("err = %v\nwant one line starting %s", err, want)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.opts.Kubeconfig = empty
	_, err = a.newContextResolver().resolve(context.Background(), fs)
	if err == nil || !strings.Contains(err.Error(), "the kubeconfig has no contexts (read: "+empty+")") {
		t.Errorf("no contexts: %v", err)
	}
}

// TestKubeconfigNoSuchFile: a KUBECONFIG (or --kubeconfig) naming a file
// that is not there says "no such file" with the path, not "no contexts".
func TestKubeconfigNoSuchFile(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  target = \"svc/api\"\n  remote_port = 80\n}\n")
	gone := filepath.Join(t.TempDir(), "nonexistent")
	tests := []struct {
		name string
		env  string // KUBECONFIG
		args []string
		want string
	}{
		{"KUBECONFIG", gone, []string{"plan"}, "no kubeconfig: no such file " + gone + " (from KUBECONFIG)"},
		{"--kubeconfig", "", []string{"--kubeconfig", gone, "plan"}, "stat " + gone + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.env["KUBECONFIG"] = tt.env
			code, _, errOut := c.run(append([]string{"-C", dir}, tt.args...)...)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}
