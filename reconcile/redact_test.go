package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
)

// secret is a sensitive variable's value.
const secret = "prod-cluster-7f3a"

// secretAPI is forward api whose context and target came from secret.
func secretAPI() model.Forward {
	return dfwd("api", 8080, func(f *model.Forward) {
		f.Context, f.Target = secret, model.Target{Kind: "service", Name: secret}
		f.Sensitive = map[string]bool{model.FieldContext: true, model.FieldTarget: true}
	})
}

// planViews is what the plan views (cmd/kpf/internal/views) show of
// p.Redact(), as text: each change's reason and field changes, and the
// forward it wants or, with none (a stop), the one that runs.
func planViews(t *testing.T, p Plan) map[string]string {
	t.Helper()
	var b strings.Builder
	for _, c := range p.Redact().Plan().Changes {
		fmt.Fprintf(&b, "%s %s %q %+v\n", c.Name, c.Action, c.Reason, c.Fields)
		if c.Desired != nil {
			fmt.Fprintf(&b, "%+v\n", *c.Desired)
		} else if c.Prior != nil {
			fmt.Fprintf(&b, "%+v\n", *c.Prior)
		}
	}
	return map[string]string{"redacted plan": b.String()}
}

// TestSensitiveRedacted: values from sensitive variables never reach the
// plan (human or JSON) or the status rows; the plan still acts on them.
func TestSensitiveRedacted(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	old := dfwd("api", 8080, func(f *model.Forward) { f.Context = secret + "-old" })
	for name, actual := range map[string]Actual{
		"start":   nil,
		"replace": {"api": drunning(old, 8080)},
	} {
		p := Diff([]model.Forward{api}, actual, dbusyPorts{})
		if p.Changes[0].Desired.Context != secret {
			t.Fatalf("%s: Diff must plan with the real value", name)
		}
		for view, out := range planViews(t, p) {
			if strings.Contains(out, secret) {
				t.Errorf("%s plan, %s view shows the sensitive value:\n%s", name, view, out)
			}
			if !strings.Contains(out, Redacted) {
				t.Errorf("%s plan, %s view does not say a value is hidden:\n%s", name, view, out)
			}
		}
	}
	rows := StatusRows([]model.Forward{api}, Actual{"api": drunning(api, 8080)}, time.Now())
	if r := rows[0]; strings.Contains(r.Target+r.Context, secret) || r.Context != Redacted {
		t.Errorf("status row shows the sensitive value: %+v", r)
	}
}

// TestSensitiveHealthPathRedacted: a health path from a sensitive variable
// does not show in a plan that replaces the forward for its health block,
// neither as it is now nor as it was started.
func TestSensitiveHealthPathRedacted(t *testing.T) {
	t.Parallel()
	withPath := func(path string) model.Forward {
		return dfwd("api", 8080, checked(model.HealthHTTP, path), func(f *model.Forward) {
			f.Sensitive = map[string]bool{model.FieldHealth: true}
		})
	}
	running := drunning(withPath("/"+secret+"-old"), 8080, func(o *Observed) {
		o.State.Sensitive = []string{model.FieldHealth}
	})
	p := Diff([]model.Forward{withPath("/" + secret)}, Actual{"api": running}, dbusyPorts{})
	if len(p.Changes) != 1 || p.Changes[0].Action != Replace {
		t.Fatalf("plan %+v, want one replace", p.Changes)
	}
	for view, out := range planViews(t, p) {
		if strings.Contains(out, secret) {
			t.Errorf("%s view shows the sensitive health path:\n%s", view, out)
		}
		if !strings.Contains(out, Redacted) || !strings.Contains(out, "health") {
			t.Errorf("%s view does not say the health block changed, hidden:\n%s", view, out)
		}
	}
}

// TestSensitiveStaysRedactedAfterTheSpec: what runs was started from
// sensitive values (the state records which fields): removed from the
// spec, or its values no longer sensitive, the views still hide the old
// values.
func TestSensitiveStaysRedactedAfterTheSpec(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	running := drunning(api, 8080, func(o *Observed) { o.State.Sensitive = api.SensitiveFields() })
	plain := dfwd("api", 8080, func(f *model.Forward) { f.Context = "dev" })
	tests := []struct {
		name    string
		spec    []model.Forward
		action  Action
		visible string // a value the view must still show
	}{
		{"removed from the spec", nil, Stop, ""},
		{"no longer sensitive", []model.Forward{plain}, Replace, "Context:dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.spec, Actual{"api": running}, dbusyPorts{})
			if len(p.Changes) != 1 || p.Changes[0].Action != tt.action {
				t.Fatalf("plan %+v, want one %v", p.Changes, tt.action)
			}
			for view, out := range planViews(t, p) {
				if strings.Contains(out, secret) {
					t.Errorf("%s view shows the old sensitive value:\n%s", view, out)
				}
				if !strings.Contains(out, Redacted) {
					t.Errorf("%s view does not say a value is hidden:\n%s", view, out)
				}
				if tt.visible != "" && !strings.Contains(out, tt.visible) {
					t.Errorf("%s view hides %s, which is not sensitive:\n%s", view, tt.visible, out)
				}
			}
			rows := StatusRows(tt.spec, Actual{"api": running}, time.Now())
			if r := rows[0]; strings.Contains(r.Target+r.Context, secret) {
				t.Errorf("status row shows the old sensitive value: %+v", r)
			}
		})
	}
}

// TestSensitiveFieldNames: the field names the spec records are those
// redact.Values (and so every runtime) knows.
func TestSensitiveFieldNames(t *testing.T) {
	t.Parallel()
	for model, redacted := range map[string]string{
		model.FieldTarget: redact.FieldTarget, model.FieldSelector: redact.FieldSelector,
		model.FieldContext: redact.FieldContext, model.FieldNamespace: redact.FieldNamespace,
		model.FieldAddress: redact.FieldAddress, model.FieldRemotePort: redact.FieldRemotePort,
		model.FieldOpen: redact.FieldOpen, model.FieldHealth: redact.FieldHealth,
	} {
		if model != redacted {
			t.Errorf("spec/model names a field %q, internal/redact %q", model, redacted)
		}
	}
}

// TestSensitiveInRuntimeText: what the runtime says of a forward (its last
// error, health error, pod) shows no sensitive value in the status rows,
// whether the spec or only the state knows the forward.
func TestSensitiveInRuntimeText(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	said := func(o *Observed) {
		o.State.Sensitive = api.SensitiveFields()
		o.Runtime.Pod = secret + "-5d8f9-x2x"
		o.LastError = `services "` + secret + `" not found`
		o.HealthError = "dial " + secret
	}
	tests := []struct {
		name string
		spec []model.Forward
	}{
		{"in the spec", []model.Forward{api}},
		{"only in the state", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, health := range []string{"", "dial " + secret} {
				obs := drunning(api, 8080, said)
				obs.LastError, obs.HealthError = "", health
				if health == "" {
					obs.LastError = `services "` + secret + `" not found`
				}
				r := StatusRows(tt.spec, Actual{"api": obs}, time.Now())[0]
				if strings.Contains(r.LastError+r.Pod, secret) {
					t.Errorf("row shows the sensitive value: last error %q, pod %q", r.LastError, r.Pod)
				}
				if !strings.Contains(r.LastError, Redacted) || !strings.Contains(r.Pod, Redacted) {
					t.Errorf("row lost what it says: last error %q, pod %q", r.LastError, r.Pod)
				}
			}
		})
	}
}

// TestApplyProgressRedacted: a start that fails with an error naming the
// sensitive values, and a start on a sensitive address, print no value.
func TestApplyProgressRedacted(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(nil)
	rt.setScript("api", func(s *fakeScript) {
		s.failAll, s.permanent = true, true
		s.err = errors.New(`services "` + secret + `" not found in context ` + secret)
	})
	var mu sync.Mutex
	var given []runtime.Spec
	rt.onStart = func(s runtime.Spec) { mu.Lock(); given = append(given, s); mu.Unlock() }
	a, out := newTestApplier(rt, 0)
	api := secretAPI()
	db := dfwd("db", 5432, func(f *model.Forward) {
		f.Address = "127.83.41.67"
		f.Sensitive = map[string]bool{model.FieldAddress: true}
	})
	p := Plan{Changes: []Change{
		{Name: "api", Action: Start, Port: 8080, Desired: &api},
		{Name: "db", Action: Start, Port: 5432, Desired: &db},
	}}
	a.Apply(context.Background(), p)
	text := strings.Join(outputLines(out), "\n")
	if strings.Contains(text, secret) || strings.Contains(text, "127.83.41.67") {
		t.Errorf("progress shows a sensitive value:\n%s", text)
	}
	if strings.Count(text, Redacted) < 2 {
		t.Errorf("progress does not say values are hidden:\n%s", text)
	}
	for _, s := range given {
		if s.Name == "api" && (s.Context != secret || !slices.Equal(s.Sensitive, api.SensitiveFields())) {
			t.Errorf("the runtime was not given the real values and their sensitive fields: %+v", s)
		}
	}
}

// failedStart is f as the state has it after a start that failed with an
// error naming secret: no process, its sensitive fields recorded.
func failedStart(f model.Forward) Observed {
	return drunning(f, 8080, func(o *Observed) {
		o.Alive, o.State.Handle = false, runtime.Handle{}
		o.State.Sensitive = f.SensitiveFields()
		o.State.LastError = `services "` + secret + `" not found`
	})
}

// TestSensitiveInPlanReason: a plan's reason quoting the runtime (the last
// error of a start that failed) shows no sensitive value.
func TestSensitiveInPlanReason(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	failed := failedStart(api)
	p := Diff([]model.Forward{api}, Actual{"api": failed}, dbusyPorts{})
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Reason, secret) {
		t.Fatalf("want one change whose reason quotes the error: %+v", p.Changes)
	}
	for view, out := range planViews(t, p) {
		if strings.Contains(out, secret) {
			t.Errorf("%s view shows the sensitive value:\n%s", view, out)
		}
		if !strings.Contains(out, "previous start failed: services") {
			t.Errorf("%s view lost the reason:\n%s", view, out)
		}
	}
}

// TestRedactLeavesThePlan: Plan.Redact gives the views a redacted copy;
// the plan the Applier acts on keeps the real values, and a plan with
// nothing sensitive is not copied.
func TestRedactLeavesThePlan(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	failed := failedStart(api)
	p := Diff([]model.Forward{api, dfwd("web", 3000)}, Actual{"api": failed}, dbusyPorts{})
	r := p.Redact().Plan()
	if c := p.Changes[0]; c.Desired.Context != secret || !strings.Contains(c.Reason, secret) {
		t.Errorf("Redact changed the plan it was given: %+v, desired %+v", c, *c.Desired)
	}
	if c := r.Changes[0]; c.Desired.Context != Redacted || strings.Contains(c.Reason, secret) {
		t.Errorf("the redacted plan shows the sensitive value: %+v, desired %+v", c, *c.Desired)
	}
	if r.Changes[1].Desired != p.Changes[1].Desired {
		t.Error("a change with nothing sensitive was copied")
	}
	plain := Diff([]model.Forward{dfwd("web", 3000)}, nil, dbusyPorts{})
	if &plain.Redact().Plan().Changes[0] != &plain.Changes[0] {
		t.Error("a plan with nothing sensitive was copied")
	}
}
