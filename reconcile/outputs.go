package reconcile

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/internal/termtext"
)

// OutputAction is what a plan does to one output's value.
type OutputAction string

// Output actions (their names in the JSON plan).
const (
	OutputCreate OutputAction = "create"
	OutputUpdate OutputAction = "update"
	OutputDelete OutputAction = "delete"
)

// OutputValue is one side of an output change: plain data, computed by the
// caller (spec evaluates outputs; reconcile never does).
type OutputValue struct {
	// Present: the output has a value or will have one after apply.
	Present bool
	// Known is false for a value known only after apply (a port not
	// chosen yet).
	Known bool
	// Text is the value as text, JSON as JSON.
	Text string
	JSON json.RawMessage
}

// OutputChange is a change of one output's value, as the forwards'
// changes would make it.
type OutputChange struct {
	Name      string
	Action    OutputAction
	Before    OutputValue
	After     OutputValue
	Sensitive bool
}

// DiffOutputs compares outputs before and after, by name, and returns the
// changes sorted as before and after are (both sorted by name).
func DiffOutputs(names []string, before, after map[string]OutputValue, sensitive map[string]bool) []OutputChange {
	var out []OutputChange
	for _, n := range names {
		b, a := before[n], after[n]
		var act OutputAction
		switch {
		case !b.Present && !a.Present:
			continue
		case !b.Present:
			act = OutputCreate
		case !a.Present:
			act = OutputDelete
		case b.Known && a.Known && b.Text == a.Text && string(b.JSON) == string(a.JSON):
			continue
		default:
			act = OutputUpdate
		}
		out = append(out, OutputChange{Name: n, Action: act, Before: b, After: a, Sensitive: sensitive[n]})
	}
	return out
}

// outputsHuman renders the output changes as Terraform does.
func (v *humanView) outputs(changes []OutputChange) {
	if len(changes) == 0 {
		return
	}
	v.b = append(v.b, "\nChanges to Outputs:\n"...)
	width := 0
	for _, c := range changes {
		width = max(width, len(termtext.Escape(c.Name)))
	}
	for _, c := range changes {
		mark, code := byte('~'), ansiYellow
		switch c.Action {
		case OutputCreate:
			mark, code = '+', ansiGreen
		case OutputDelete:
			mark, code = '-', ansiRed
		}
		v.b = append(v.b, "  "...)
		v.paint(code, string(mark))
		name := termtext.Escape(c.Name)
		v.b = append(v.b, ' ')
		v.b = append(v.b, name...)
		v.b = append(v.b, strings.Repeat(" ", width-len(name))...)
		v.b = append(v.b, " = "...)
		switch {
		case c.Sensitive:
			v.b = append(v.b, "(sensitive value)"...)
		case c.Action == OutputCreate:
			v.b = append(v.b, outputText(c.After)...)
		case c.Action == OutputDelete:
			v.b = append(v.b, outputText(c.Before)...)
			v.b = append(v.b, " -> null"...)
		default:
			v.b = append(v.b, outputText(c.Before)...)
			v.b = append(v.b, " -> "...)
			v.b = append(v.b, outputText(c.After)...)
		}
		v.b = append(v.b, '\n')
	}
}

func outputText(o OutputValue) string {
	if !o.Known {
		return "(known after apply)"
	}
	if len(o.JSON) > 0 && o.JSON[0] == '"' {
		return termtext.Escape(strconv.Quote(o.Text))
	}
	return termtext.Escape(o.Text)
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

func jsonOutputChanges(changes []OutputChange) []jsonOutputChange {
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
