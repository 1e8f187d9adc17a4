package reconcile

import "encoding/json"

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
