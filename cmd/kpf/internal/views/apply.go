package views

import (
	"fmt"
	"io"

	"github.com/kpf-dev/kpf/reconcile"
)

// Apply is the view of `kpf apply`: reconcile's events as they happen
// (reconcile.Hook), and what the command itself has to say around them.
// ApplyHuman and JSON implement it.
type Apply interface {
	reconcile.Hook
	// Plan is the plan about to be applied (or one that has only errors).
	Plan(p reconcile.RedactedPlan) error
	// NoChanges: p changes nothing.
	NoChanges(p reconcile.RedactedPlan) error
	Summary(s Summary)
	// Serving: every forward of the apply serves (--wait).
	Serving(forwards int)
	WatchStarted(forwards int)
	WatchStopped()
}

var (
	_ Apply = (*ApplyHuman)(nil)
	_ Apply = (*JSON)(nil)
)

// ApplyHuman is the human view of `kpf apply`: the plan as `kpf plan`
// shows it, a progress line per forward, a closing line.
type ApplyHuman struct {
	*Progress
	Color bool
}

// NewApplyHuman writes to w.
func NewApplyHuman(w io.Writer, color bool) *ApplyHuman {
	return &ApplyHuman{Progress: NewProgress(w), Color: color}
}

func (h *ApplyHuman) Plan(p reconcile.RedactedPlan) error {
	if err := (PlanHuman{W: h.W, Color: h.Color}).Show(p); err != nil {
		return err
	}
	_, err := fmt.Fprintln(h.W)
	return err
}

func (h *ApplyHuman) NoChanges(reconcile.RedactedPlan) error {
	_, err := fmt.Fprintln(h.W, "No changes. Your forwards match the spec.")
	return err
}

func (h *ApplyHuman) Summary(s Summary) { fmt.Fprintln(h.W, s.String()) }

func (h *ApplyHuman) Serving(n int) { fmt.Fprintf(h.W, "Every forward serves (%d).\n", n) }

func (h *ApplyHuman) WatchStarted(n int) {
	fmt.Fprintf(h.W, "Watching %d forwards (Ctrl-C stops watching; forwards keep running).\n", n)
}

func (h *ApplyHuman) WatchStopped() {
	fmt.Fprintln(h.W, "Stopped watching; forwards keep running. 'kpf destroy' stops them.")
}

// Plan emits the plan line.
func (j *JSON) Plan(p reconcile.RedactedPlan) error {
	j.PlanReady(reconcile.PlanReady{At: p.Plan().Created, Plan: p})
	return j.Err()
}

// NoChanges emits the plan (no-ops only) and an empty summary.
func (j *JSON) NoChanges(p reconcile.RedactedPlan) error {
	j.PlanReady(reconcile.PlanReady{At: p.Plan().Created, Plan: p})
	j.Summary(Summary{})
	return j.Err()
}
