package views

import (
	"io"

	"github.com/kpf-dev/kpf/reconcile"
)

// Plan shows a plan: `kpf plan`, and the plan `kpf apply` is about to
// apply. NewPlan picks the implementation once, human or JSON.
//
// It takes a reconcile.RedactedPlan (Plan.Redact, reconcile/redact.go),
// never a Plan: what it renders holds no value from a sensitive variable.
type Plan interface {
	Show(p reconcile.RedactedPlan) error
}

var (
	_ Plan = PlanHuman{}
	_ Plan = PlanJSON{}
)

// NewPlan is the JSON view when json is set, else the human one.
func NewPlan(w io.Writer, json, color bool) Plan {
	if json {
		return PlanJSON{W: w}
	}
	return PlanHuman{W: w, Color: color}
}

// PlanHuman writes the plan in Terraform's shape.
type PlanHuman struct {
	W     io.Writer
	Color bool
}

func (h PlanHuman) Show(p reconcile.RedactedPlan) error {
	return renderHuman(h.W, p, h.Color)
}

// PlanJSON writes the plan in the versioned schema of reconcile/JSON.md.
type PlanJSON struct{ W io.Writer }

func (j PlanJSON) Show(p reconcile.RedactedPlan) error { return renderJSON(j.W, p) }
