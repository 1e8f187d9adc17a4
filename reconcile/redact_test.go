package reconcile

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// planViews renders p in every view, by view name.
func planViews(t *testing.T, p Plan) map[string]string {
	t.Helper()
	var human, js bytes.Buffer
	if err := RenderHuman(&human, p, HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"human": human.String(), "json": js.String()}
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
		{"no longer sensitive", []model.Forward{plain}, Replace, `"dev"`},
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
