package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPackageLayers enforces the import direction of the design:
// cmd → reconcile → spec, runtime, state; spec never runs a process;
// runtime never reads HCL; reconcile never imports hcl itself. And the kpf
// binary links neither kubectl's libraries nor client-go's typed clientset:
// the clientset's scheme registers every API group at init, about 6 ms of
// every command's start (kpf plan's budget is 15 ms in all).
func TestPackageLayers(t *testing.T) {
	const mod = "github.com/kpf-dev/kpf/"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", mod+"cmd/kpf", mod+"spec/...", mod+"reconcile/...", mod+"runtime/...", mod+"state/...", mod+"internal/kinds").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string // direct
		Deps       []string // transitive
	}
	rules := []struct {
		pkg        string // prefix
		transitive bool
		forbidden  []string // prefixes
		allowed    []string // exceptions to forbidden (exact paths)
	}{
		// The binary links no test helper either, nor runtime/metrics (its
		// init builds tables in every command's start: ~0.6 ms of `kpf
		// version` on a slow machine; the agent reads MemStats).
		{mod + "cmd/kpf", true, []string{"runtime/metrics", "k8s.io/client-go/kubernetes", "k8s.io/kubectl", "k8s.io/cli-runtime", mod + "runtime/native/engine/enginetest", mod + "runtime/native/nativetest", mod + "internal/testutil", mod + "internal/testwait"}, nil},
		{mod + "spec", false, []string{"os/exec", mod + "runtime", mod + "reconcile", mod + "state", mod + "cmd"}, nil},
		// The plain forward types: a leaf that reaches nothing of kpf and no
		// HCL but internal/kinds, the home of its Target (shared with
		// runtime.Spec and the engine), itself a leaf.
		{mod + "spec/model", true, []string{"github.com/hashicorp/hcl", "github.com/zclconf/go-cty", strings.TrimSuffix(mod, "/")}, []string{mod + "internal/kinds"}},
		{mod + "internal/kinds", true, []string{strings.TrimSuffix(mod, "/")}, nil},
		// reconcile never reaches HCL, not even transitively; processes run through runtime.
		{mod + "reconcile", true, []string{"github.com/hashicorp/hcl", "github.com/zclconf/go-cty", mod + "spec", mod + "cmd", "os/exec"}, []string{mod + "spec/model"}},
		{mod + "runtime", true, []string{"github.com/hashicorp/hcl", "github.com/zclconf/go-cty", mod + "spec", mod + "reconcile", mod + "state", mod + "cmd"}, nil},
		// state reads the kubectl runtime's handles through package handle,
		// which never runs a process.
		{mod + "runtime/kubectl/handle", true, []string{"os/exec"}, nil},
		{mod + "state", true, []string{"github.com/hashicorp/hcl", "github.com/zclconf/go-cty", mod + "spec", mod + "reconcile", mod + "cmd"}, nil},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		for _, r := range rules {
			if p.ImportPath != r.pkg && !strings.HasPrefix(p.ImportPath, r.pkg+"/") {
				continue
			}
			list := p.Imports
			if r.transitive {
				list = p.Deps
			}
			for _, imp := range list {
				if slices.Contains(r.allowed, imp) {
					continue
				}
				for _, bad := range r.forbidden {
					if imp == bad || strings.HasPrefix(imp, bad+"/") {
						t.Errorf("%s imports %s", p.ImportPath, imp)
					}
				}
			}
		}
	}
	if seen < 7 {
		t.Fatalf("go list returned %d packages; the rules checked nothing", seen)
	}
}
