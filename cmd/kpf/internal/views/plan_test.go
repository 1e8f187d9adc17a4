package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
)

// secret is a sensitive variable's value.
const secret = "prod-cluster-7f3a"

// secretAPI is forward api whose context and target came from secret.
func secretAPI() model.Forward {
	return fwd("api", 8080, func(f *model.Forward) {
		f.Context, f.Target = secret, model.Target{Kind: "service", Name: secret}
		f.Sensitive = map[string]bool{model.FieldContext: true, model.FieldTarget: true}
	})
}

// planShows renders p in every view that shows a plan, by view name.
func planShows(t *testing.T, p reconcile.Plan) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, show := range map[string]func(w *bytes.Buffer) error{
		"plan human":       func(w *bytes.Buffer) error { return NewPlan(w, false, false).Show(p.Redact()) },
		"plan human color": func(w *bytes.Buffer) error { return NewPlan(w, false, true).Show(p.Redact()) },
		"plan json":        func(w *bytes.Buffer) error { return NewPlan(w, true, false).Show(p.Redact()) },
		"apply human":      func(w *bytes.Buffer) error { return NewApplyHuman(w, false).Plan(p.Redact()) },
		"apply json":       func(w *bytes.Buffer) error { return NewJSON(w, nil).Plan(p.Redact()) },
	} {
		var b bytes.Buffer
		if err := show(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.String()
	}
	return out
}

// TestPlanViewsRedact: no view of a plan shows a value that came from a
// sensitive variable — in the forward it wants, the fields it changes,
// what runs (the state records which fields were sensitive when it
// started) or the reason (which may quote the runtime) — and each says a
// value is hidden.
func TestPlanViewsRedact(t *testing.T) {
	t.Parallel()
	api := secretAPI()
	withPath := func(path string) model.Forward {
		return fwd("api", 8080, checked(model.HealthHTTP, path), func(f *model.Forward) {
			f.Sensitive = map[string]bool{model.FieldHealth: true}
		})
	}
	startedSecret := running(api, 8080, func(o *reconcile.Observed) { o.State.Sensitive = api.SensitiveFields() })
	tests := []struct {
		name    string
		spec    []model.Forward
		actual  reconcile.Actual
		action  reconcile.Action
		visible string // what the views must still show
	}{
		{"start", []model.Forward{api}, nil, reconcile.Start, "api"},
		{"replace", []model.Forward{api}, reconcile.Actual{"api": running(fwd("api", 8080, func(f *model.Forward) {
			f.Context = "kind-old"
		}), 8080)}, reconcile.Replace, "context"},
		{"health path", []model.Forward{withPath("/" + secret)}, reconcile.Actual{"api": running(withPath("/"+secret+"-old"), 8080,
			func(o *reconcile.Observed) { o.State.Sensitive = []string{model.FieldHealth} })}, reconcile.Replace, "health"},
		{"removed from the spec", nil, reconcile.Actual{"api": startedSecret}, reconcile.Stop, "api"},
		{"no longer sensitive", []model.Forward{fwd("api", 8080, func(f *model.Forward) { f.Context = "dev" })},
			reconcile.Actual{"api": startedSecret}, reconcile.Replace, `"dev"`},
		{"reason quotes the runtime", []model.Forward{api}, reconcile.Actual{"api": running(api, 8080, func(o *reconcile.Observed) {
			o.Alive, o.State.Handle = false, runtime.Handle{}
			o.State.Sensitive = api.SensitiveFields()
			o.State.LastError = `services "` + secret + `" not found`
		})}, reconcile.Start, "previous start failed: services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := reconcile.Diff(tt.spec, tt.actual, busyPorts{})
			if len(p.Changes) != 1 || p.Changes[0].Action != tt.action {
				t.Fatalf("plan %+v, want one %q", p.Changes, tt.action)
			}
			for view, out := range planShows(t, p) {
				if strings.Contains(out, secret) {
					t.Errorf("%s shows the sensitive value:\n%s", view, out)
				}
				if !strings.Contains(out, reconcile.Redacted) {
					t.Errorf("%s does not say a value is hidden:\n%s", view, out)
				}
				if !strings.Contains(out, tt.visible) {
					t.Errorf("%s hides %s, which is not sensitive:\n%s", view, tt.visible, out)
				}
			}
		})
	}
}
