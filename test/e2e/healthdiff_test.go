//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestNativeHealthBlockChangeReplaces: a forward's health block is part of
// what plan and apply compare. Without a block the unused forward reads
// idle; adding `health { http = "/healthz" }` shows in `kpf plan` (human
// and JSON) as a replacement for its health, and once applied the forward
// is checked though nobody uses it; `none = true` turns the checks off and
// the block back on turns them on again, each change planned, each applied;
// `kpf apply --watch` takes such a change too.
func TestNativeHealthBlockChangeReplaces(t *testing.T) {
	t.Parallel()
	healthBlockChanges(t, nativeWorkspace(t, newNamespace(t)), "idle")
}

// TestKubectlHealthBlockChangeReplaces: the same for a forward of the
// kubectl runtime, which kpf probes itself (without a block it is checked
// by a TCP connect, so healthy).
func TestKubectlHealthBlockChangeReplaces(t *testing.T) {
	t.Parallel()
	healthBlockChanges(t, newWorkspace(t, newNamespace(t)), "healthy")
}

// healthBlockChanges walks a forward of w through health blocks added,
// turned off and on again; unchecked is its health without a block.
func healthBlockChanges(t *testing.T, w *workspace, unchecked string) {
	port := testutil.FreePort(t)
	spec := func(health string) {
		w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "web" {
  namespace   = "%%NS%%"
  target      = "service/web"
  local_port  = %d
  remote_port = "http"
%s}
`, port, health))
	}
	const httpBlock = "  health {\n    http = \"/healthz\"\n  }\n"
	spec("")
	w.mustKpf("apply")
	waitUntil(t, 30*time.Second, "web, unused and without a health block, "+unchecked, func() bool {
		return w.healthOf("web").Health == unchecked
	})

	steps := []struct {
		block, before, after, health string
	}{
		{httpBlock, "null", `{ http = "/healthz" }`, "healthy"},
		{"  health {\n    none = true\n  }\n", `{ http = "/healthz" }`, "{ none = true }", "none"},
		{httpBlock, "{ none = true }", `{ http = "/healthz" }`, "healthy"},
	}
	for _, s := range steps {
		spec(s.block)
		w.expectHealthReplace(s.before, s.after)
		w.mustKpf("apply")
		w.expectNoChanges("after applying health " + s.after)
		waitUntil(t, 30*time.Second, "web, unused, health "+s.health, func() bool {
			return w.healthOf("web").Health == s.health
		})
	}

	// `kpf apply --watch` takes a health change as it takes the others.
	wt := w.watch()
	spec("  health {\n    none = true\n  }\n")
	w.waitOutput(wt, "replaced on 127.0.0.1:"+strconv.Itoa(port)+" (1 attempt; spec changed: health)", time.Minute)
	waitUntil(t, 30*time.Second, "web, health none under the watch", func() bool {
		return w.healthOf("web").Health == "none"
	})
}

// expectHealthReplace fails the test unless `kpf plan` (human and JSON)
// replaces forward web for its health block, from before to after.
func (w *workspace) expectHealthReplace(before, after string) {
	w.t.Helper()
	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	want := []string{"forward.web must be replaced", "(spec changed: health)",
		"health      = " + before + " -> " + after + " # forces replacement"}
	for _, s := range want {
		if code != 2 || !strings.Contains(out, s) {
			w.t.Fatalf("kpf plan: exit %d, want 2 and %q:\n%s%s", code, s, out, errOut)
		}
	}
	var plan struct {
		Changes []struct {
			Name, Action, Reason string
			Fields               []struct{ Field, Before, After string }
		}
	}
	js := w.mustKpf("plan", "--json")
	if err := json.Unmarshal([]byte(js), &plan); err != nil {
		w.t.Fatalf("kpf plan --json: %v\n%s", err, js)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Action != "replace" ||
		plan.Changes[0].Reason != "spec changed: health" || len(plan.Changes[0].Fields) != 1 ||
		plan.Changes[0].Fields[0].Field != "health" {
		w.t.Fatalf("kpf plan --json: want web replaced for its health:\n%s", js)
	}
}
