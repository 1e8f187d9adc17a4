package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec/model"
)

// TestPlanViewsRedact: every implementation of Plan hides a value that
// came from a sensitive variable, in the plan and in kpf apply's views.
func TestPlanViewsRedact(t *testing.T) {
	t.Parallel()
	const secret = "prod-secret-ctx"
	api := model.Forward{Name: "api", Target: model.Target{Kind: "service", Name: "api"}, Context: secret,
		Namespace: "shop", Address: "127.0.0.1", LocalPort: 8080, RemotePort: "http", Enabled: true,
		Sensitive: map[string]bool{model.FieldContext: true}}
	p := reconcile.Plan{Workspace: "shop", Created: at, Changes: []reconcile.Change{
		{Name: "api", Action: reconcile.Start, Port: 8080, Desired: &api},
	}}
	for _, tt := range []struct {
		name string
		show func(w *bytes.Buffer) error
	}{
		{"plan human", func(w *bytes.Buffer) error { return NewPlan(w, false, false).Show(p) }},
		{"plan human color", func(w *bytes.Buffer) error { return NewPlan(w, false, true).Show(p) }},
		{"plan json", func(w *bytes.Buffer) error { return NewPlan(w, true, false).Show(p) }},
		{"apply human", func(w *bytes.Buffer) error { return NewApplyHuman(w, false).Plan(p) }},
		{"apply json", func(w *bytes.Buffer) error { return NewJSON(w, nil).Plan(p) }},
	} {
		var b bytes.Buffer
		if err := tt.show(&b); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if strings.Contains(b.String(), secret) {
			t.Errorf("%s shows the sensitive value:\n%s", tt.name, b.String())
		}
		if !strings.Contains(b.String(), "api") {
			t.Errorf("%s does not show the forward:\n%s", tt.name, b.String())
		}
	}
}
