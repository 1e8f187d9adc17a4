package views

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/kpf-dev/kpf/reconcile"
)

type jsonPlan struct {
	FormatVersion string       `json:"format_version"`
	Workspace     string       `json:"workspace"`
	Changes       []jsonChange `json:"changes"`
	// Errors (1.1): forwards that cannot be planned; [] when none.
	Errors []reconcile.ForwardError `json:"errors"`
	// OutputChanges (1.1): changes of output values; [] when none.
	OutputChanges []jsonOutputChange `json:"output_changes"`
	Summary       reconcile.Summary  `json:"summary"`
}

type jsonChange struct {
	Name       string                  `json:"name"`
	Action     string                  `json:"action"`
	Reason     string                  `json:"reason"`
	LocalPort  int                     `json:"local_port"`
	PortMove   *reconcile.PortMove     `json:"port_move"`
	Fields     []reconcile.FieldChange `json:"fields"`
	Target     string                  `json:"target"`
	Selector   map[string]string       `json:"selector"`
	Context    string                  `json:"context"`
	Namespace  string                  `json:"namespace"`
	Address    string                  `json:"address"`
	RemotePort string                  `json:"remote_port"`
}

// renderJSON writes the plan as JSON in the schema of reconcile/JSON.md.
// Every change is listed, no-ops included.
func renderJSON(w io.Writer, rp reconcile.RedactedPlan) error {
	p := rp.Plan()
	out := jsonPlan{
		FormatVersion: reconcile.JSONFormatVersion,
		Workspace:     p.Workspace,
		Changes:       make([]jsonChange, 0, len(p.Changes)),
		Errors:        append([]reconcile.ForwardError{}, p.Errors...),
		OutputChanges: jsonOutputChanges(p.Outputs),
		Summary:       p.Summary(),
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		jc := jsonChange{
			Name: c.Name, Action: actionName(c.Action), Reason: c.Reason,
			LocalPort: c.Port, PortMove: c.PortMove, Fields: c.Fields,
		}
		if jc.Fields == nil {
			jc.Fields = []reconcile.FieldChange{}
		}
		switch {
		case c.Desired != nil:
			d := c.Desired
			jc.Target, jc.Selector = d.Target.String(), d.Selector
			jc.Context, jc.Namespace, jc.Address, jc.RemotePort = d.Context, d.Namespace, d.Address, d.RemotePort
		case c.Prior != nil:
			pr := c.Prior
			jc.Target, jc.Selector = pr.Target, pr.Selector
			jc.Context, jc.Namespace, jc.Address, jc.RemotePort = pr.Context, pr.Namespace, pr.Address, pr.RemotePort
		}
		out.Changes = append(out.Changes, jc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing plan as json: %w", err)
	}
	return nil
}

type jsonOutputChange struct {
	Name         string          `json:"name"`
	Action       string          `json:"action"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	AfterUnknown bool            `json:"after_unknown"`
	Sensitive    bool            `json:"sensitive"`
}

var jsonNull = json.RawMessage("null")

func jsonOutputChanges(changes []reconcile.OutputChange) []jsonOutputChange {
	out := make([]jsonOutputChange, 0, len(changes))
	for _, c := range changes {
		j := jsonOutputChange{Name: c.Name, Action: string(c.Action), Before: jsonNull, After: jsonNull, Sensitive: c.Sensitive}
		j.AfterUnknown = c.After.Present && !c.After.Known
		if !c.Sensitive {
			if c.Before.Present && c.Before.Known && len(c.Before.JSON) > 0 {
				j.Before = c.Before.JSON
			}
			if c.After.Present && c.After.Known && len(c.After.JSON) > 0 {
				j.After = c.After.JSON
			}
		}
		out = append(out, j)
	}
	return out
}
