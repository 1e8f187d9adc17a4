package main

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/prefetch"
	"github.com/kpf-dev/kpf/spec"
)

// TestPrefetchKnowsTheCommandLine holds package prefetch's reading of the
// command line to the root command: every global flag is a value or a bool
// flag there, as it is here, and every command it prefetches for exists.
func TestPrefetchKnowsTheCommandLine(t *testing.T) {
	root := (&app{getenv: func(string) string { return "" }}).rootCommand()
	var values, bools []string
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		names := []string{"--" + f.Name}
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
		if f.Value.Type() == "bool" {
			bools = append(bools, names...)
		} else {
			values = append(values, names...)
		}
	})
	sorted := func(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }
	if got, want := sorted(prefetch.ValueFlags), sorted(values); !slices.Equal(got, want) {
		t.Errorf("prefetch.ValueFlags = %q, the root command's flags with a value are %q", got, want)
	}
	if got, want := sorted(prefetch.BoolFlags), sorted(bools); !slices.Equal(got, want) {
		t.Errorf("prefetch.BoolFlags = %q, the root command's bool flags are %q", got, want)
	}
	for _, name := range prefetch.Commands {
		if c, _, err := root.Find([]string{name}); err != nil || c == root || c.Name() != name {
			t.Errorf("prefetch.Commands names %q, which is not a kpf command", name)
		}
	}
}

// TestPlanAfterPrefetch: `kpf plan` of a workspace whose spec was
// prefetched (as the prefetch package's init does for `kpf -C DIR plan`)
// shows what it shows without, byte for byte, warnings included.
func TestPlanAfterPrefetch(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  context = \"kind-dev\"\n  target = \"svc/api\"\n  local_port = 18091\n  remote_port = 80\n  address = \"0.0.0.0\"\n}\n")
	writeSpec(t, dir, "web.kpf.hcl", "forward \"web\" {\n  context = \"kind-dev\"\n  target = \"svc/web\"\n  local_port = 18092\n  remote_port = 80\n}\n")
	c := newCLI(t)
	code, want, wantErr := c.run("-C", dir, "plan", "--no-color")
	if code != exitChanges && code != exitOK || wantErr == "" {
		t.Fatalf("plan: exit %d, want a warning on stderr\n%s%s", code, want, wantErr)
	}
	spec.Prefetch(dir)
	code2, got, gotErr := c.run("-C", dir, "plan", "--no-color")
	if code2 != code || got != want || gotErr != wantErr {
		t.Errorf("plan after a prefetch: exit %d\n%s%s\nwant exit %d\n%s%s", code2, got, gotErr, code, want, wantErr)
	}
}

// TestContextPreload: a preloaded kubeconfig is taken while its files are
// unchanged, read again when they changed, and its error is load's.
func TestContextPreload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	writeKubeconfig(t, kubeconfig, "dev", "shop")
	resolver := func(path string) *contextResolver {
		a := &app{opts: globalOptions{Kubeconfig: path}, getenv: func(string) string { return "" }, log: hclog.NewNullLogger()}
		return a.newContextResolver()
	}
	fs := []spec.Forward{{Name: "a", Enabled: true}}

	r := resolver(kubeconfig)
	r.preload()
	if got, err := r.resolve(ctx, fs); err != nil || got[0].Namespace != "shop" || r.loads != 1 {
		t.Fatalf("preloaded: %v, %v after %d reads; want namespace shop after 1", got, err, r.loads)
	}

	r = resolver(kubeconfig)
	r.preload()
	<-r.pending.done
	writeKubeconfig(t, kubeconfig, "dev", "changed-since") // another size: another stamp
	if got, err := r.resolve(ctx, fs); err != nil || got[0].Namespace != "changed-since" {
		t.Fatalf("changed after the preload: %v, %v; want namespace changed-since", got, err)
	}

	missing := filepath.Join(dir, "missing")
	_, want := resolver(missing).resolve(ctx, fs)
	r = resolver(missing)
	r.preload()
	if _, err := r.resolve(ctx, fs); err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("preloaded a missing kubeconfig: %v; want %v", err, want)
	}

}
