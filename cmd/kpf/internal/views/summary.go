package views

import (
	"fmt"
	"strings"

	"github.com/kpf-dev/kpf/reconcile"
)

// Summary counts what an apply did.
type Summary struct {
	Started    int `json:"started"`
	Replaced   int `json:"replaced"`
	Restarted  int `json:"restarted"`
	Stopped    int `json:"stopped"`
	Failed     int `json:"failed"`
	NotPlanned int `json:"not_planned"`
}

// SummaryOf counts res; unplannable is the number of forwards the plan
// could not include.
func SummaryOf(res reconcile.Result, unplannable int) Summary {
	s := Summary{Failed: res.Failed, NotPlanned: unplannable}
	for _, o := range res.Outcomes {
		if o.Err != nil || o.NeverRan {
			continue
		}
		switch o.Action {
		case reconcile.Start:
			s.Started++
		case reconcile.Replace:
			s.Replaced++
		case reconcile.Restart:
			s.Restarted++
		case reconcile.Stop:
			s.Stopped++
		}
	}
	return s
}

// OK reports whether nothing failed.
func (s Summary) OK() bool { return s.Failed == 0 && s.NotPlanned == 0 }

// String is the closing line of an apply.
func (s Summary) String() string {
	parts := []string{
		fmt.Sprintf("%d started", s.Started),
		fmt.Sprintf("%d replaced", s.Replaced),
		fmt.Sprintf("%d restarted", s.Restarted),
		fmt.Sprintf("%d stopped", s.Stopped),
	}
	if !s.OK() {
		failed := fmt.Sprintf("%d failed", s.Failed)
		if s.NotPlanned > 0 {
			failed += fmt.Sprintf(", %d not planned", s.NotPlanned)
		}
		return fmt.Sprintf("Apply finished with errors: %s, %s.", strings.Join(parts, ", "), failed)
	}
	return fmt.Sprintf("Apply complete: %s.", strings.Join(parts, ", "))
}
