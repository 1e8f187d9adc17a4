package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/spec"
)

// TestContextResolverPinsAndCaches: the current context is pinned once and
// kept when it changes later; the kubeconfig is read again only when its
// file changes; namespaces default to the context's, then "default".
func TestContextResolverPinsAndCaches(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	if err := os.WriteFile(kubeconfig, []byte("placeholder: the fake kubectl does not read it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := filepath.Join(dir, "argv")
	t.Setenv("FAKE_KUBECTL_ARGV_FILE", argv)
	t.Setenv("FAKE_KUBECTL_CONTEXT", "dev")
	t.Setenv("FAKE_KUBECTL_CONTEXTS", "dev=shop prod")
	r := &contextResolver{
		rt:         &kubectl.Runtime{Kubectl: fakeKubectl},
		kubeconfig: kubeconfig,
		log:        hclog.NewNullLogger(),
	}
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
	want := map[string]string{"a": "dev/shop", "b": "prod/default", "c": "dev/data"}
	check(want)
	t.Setenv("FAKE_KUBECTL_CONTEXT", "prod") // a context switch in another terminal
	check(want)
	if n := countCalls(t, argv, "config view"); n != 1 {
		t.Errorf("kubeconfig read %d times for an unchanged file, want 1", n)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(kubeconfig, later, later); err != nil {
		t.Fatal(err)
	}
	check(want)
	if n := countCalls(t, argv, "config view"); n != 2 {
		t.Errorf("kubeconfig read %d times after it changed, want 2", n)
	}
	if n := countCalls(t, argv, "config current-context"); n != 1 {
		t.Errorf("current context read %d times, want 1 (pinned)", n)
	}

	fs = append(fs, spec.Forward{Name: "d", Enabled: true, Context: "nope", Decl: spec.Pos{File: "kpf.hcl", Line: 9, Column: 1}})
	if _, err := r.resolve(ctx, fs); err == nil || !strings.Contains(err.Error(), `kpf.hcl:9:1: forward "d": context "nope" is not in the kubeconfig`) {
		t.Errorf("unknown context: err = %v", err)
	}
}

// countCalls counts the fake kubectl's recorded invocations that start with words.
func countCalls(t *testing.T, argvFile, words string) int {
	t.Helper()
	b, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	prefix := `["` + strings.ReplaceAll(words, " ", `","`) + `"`
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
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
		{"flag", contextResolver{kubeconfig: a, envConfig: b}, a},
		{"env list", contextResolver{envConfig: a + string(filepath.ListSeparator) + b}, b},
		{"home", contextResolver{home: home}, filepath.Join(home, ".kube", "config")},
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
