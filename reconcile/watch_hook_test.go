package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// describe is an event in a few words, for comparing sequences.
func describe(ev any) string {
	switch e := ev.(type) {
	case PlanReady:
		var cs []string
		for _, c := range e.Plan.Plan().Changes {
			cs = append(cs, string(c.Action)+c.Name)
		}
		return "plan " + strings.Join(cs, " ")
	case ActionStarted:
		return "started " + string(e.Action) + e.Forward
	case ActionSucceeded:
		return fmt.Sprintf("succeeded %s%s on %d", e.Action, e.Forward, e.Port)
	case ActionFailed:
		return fmt.Sprintf("failed %s%s: %s", e.Action, e.Forward, e.Error)
	case ForwardExited:
		return "exited " + e.Forward + ": " + e.Error
	case HealthChanged:
		return fmt.Sprintf("health %s %s->%s", e.Forward, e.From, e.To)
	case SpecReloaded:
		return fmt.Sprintf("spec reloaded %d recovered=%t", e.Forwards, e.Recovered)
	case SpecBroken:
		var ds []string
		for _, d := range e.Diagnostics {
			ds = append(ds, d.String())
		}
		return fmt.Sprintf("spec broken %q %v %v", e.Error, ds, e.Unplannable)
	}
	return fmt.Sprintf("%T", ev)
}

// TestWatchTellsHook: what a watch sees and does reaches its hook as
// typed events, each once: the first pass's plan and actions, an exit and
// the restart after it, a health change, a broken spec with its
// diagnostics as data (once however many passes find it broken), a spec
// that loads again, a changed spec, forwards left unplanned.
func TestWatchTellsHook(t *testing.T) {
	t.Parallel()
	api, db := watchFwd(t, "api"), watchFwd(t, "db")
	h := newHarness(t, api, db)
	hook := &lineHook{}
	h.w.Applier.Hook = hook
	seen := 0
	next := func() []string {
		evs := hook.all()
		var out []string
		for _, ev := range evs[seen:] {
			out = append(out, describe(ev))
		}
		seen = len(evs)
		return out
	}
	broken := &SpecError{Diagnostics: []Diagnostic{
		{Severity: SeverityError, Summary: "Unsupported argument", Range: &SourceRange{Filename: "kpf.hcl", Start: SourcePos{Line: 3, Column: 5}}},
	}}
	brokenAgain := &SpecError{Diagnostics: []Diagnostic{
		{Severity: SeverityError, Summary: "Invalid expression", Range: &SourceRange{Filename: "kpf.hcl", Start: SourcePos{Line: 4, Column: 1}}},
	}}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"first pass", h.run, []string{"plan +api +db"}}, // then the actions, in any order
		{"nothing happens", func() { h.step(); h.step() }, nil},
		{"api killed", func() { h.rt.kill("api", "error: lost connection to pod"); h.step() }, []string{
			"exited api: error: lost connection to pod", "plan ~api", "started ~api", fmt.Sprintf("succeeded ~api on %d", api.LocalPort)}},
		{"db's checks fail", func() { h.prober.set("db", true); h.step() }, []string{
			"health db healthy->unhealthy", "plan ~db", "started ~db", fmt.Sprintf("succeeded ~db on %d", db.LocalPort)}},
		{"db's checks pass", func() { h.prober.set("db", false); h.step(); h.step() }, nil},
		{"spec broken, three passes", func() { h.setSpec(broken); h.step(); h.step(); h.step() }, []string{
			`spec broken "the spec has errors; running forwards are left as they are" [kpf.hcl:3:5: error: Unsupported argument] []`}},
		{"broken otherwise", func() { h.setSpec(brokenAgain); h.step(); h.step() }, []string{
			`spec broken "the spec has errors; running forwards are left as they are" [kpf.hcl:4:1: error: Invalid expression] []`}},
		{"spec fixed", func() { h.setSpec(nil, api, db); h.step() }, []string{"spec reloaded 2 recovered=true"}},
		{"same spec again", func() { h.step(); h.step() }, nil},
		{"db unplannable", func() {
			h.setSpec(&UnplannableError{Errors: []ForwardError{{Name: "db", Error: `context "prod" is not in the kubeconfig`}}}, api)
			h.step()
			h.step()
		}, []string{`spec broken "context \"prod\" is not in the kubeconfig" [] [db]`, "spec reloaded 1 recovered=false",
			"health db healthy->unknown"}}, // db is left as it runs, and no longer checked
	}
	for _, st := range steps {
		st.do()
		got := next()
		if st.name == "first pass" {
			if len(got) != 5 || !slices.Contains(got, fmt.Sprintf("succeeded +api on %d", api.LocalPort)) ||
				!slices.Contains(got, fmt.Sprintf("succeeded +db on %d", db.LocalPort)) {
				t.Errorf("%s: events %q, want the plan, 2 starts and 2 successes", st.name, got)
			}
			got = got[:1]
		}
		// Health changes of the restarted forward are not this test's.
		got = slices.DeleteFunc(got, func(s string) bool {
			return strings.HasPrefix(s, "health api ") || strings.HasPrefix(s, "health db unhealthy->")
		})
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: events\n got %q\nwant %q", st.name, got, st.want)
		}
	}
}
