package reconcile

import (
	"slices"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// Redaction: this file is the one place that turns data holding values
// of sensitive variables into what a view may show, one step per kind of
// data the views take:
//
//   - a plan: Plan.Redact, the only maker of the RedactedPlan that every
//     plan view (and the PlanReady event) takes;
//   - status rows: StatusRows, the only maker of StatusRow values, redacts
//     each (redactedForward, redactedState, StatusRow.scrub);
//   - events: the Applier and the Watcher scrub every text of the Hook's
//     events with the values of the forwards they act on (ForwardValues,
//     StateValues; see Applier.scrubValuesOf).
//
// A view that took a Plan, a model.Forward or a state.Forward would skip
// it; the views package takes none of them.

// Redacted stands for a value that came from a sensitive variable (the
// placeholder every runtime and view uses).
const Redacted = redact.Placeholder

// ForwardValues are the values of f that came from sensitive variables,
// as a redact.Scrubber takes them: what must not show in any text about f
// (errors, logs, pod names derived from a target).
func ForwardValues(f model.Forward) []string {
	if len(f.Sensitive) == 0 {
		return nil
	}
	return redact.Values(redact.Fields{
		Target: f.Target.String(), Selector: f.Selector, Context: f.Context,
		Namespace: f.Namespace, Address: f.Address, RemotePort: f.RemotePort,
		Open: f.Open, HealthPath: f.Health.HTTPPath, Sensitive: f.SensitiveFields(),
	})
}

// StateValues are ForwardValues of a forward as the state records it.
func StateValues(f state.Forward) []string {
	if len(f.Sensitive) == 0 {
		return nil
	}
	return redact.Values(redact.Fields{
		Target: f.Target, Selector: f.Selector, Context: f.Context, Namespace: f.Namespace,
		Address: f.Address, RemotePort: f.RemotePort, Sensitive: f.Sensitive,
	})
}

// SensitiveValues are the values of every forward of forwards and of st
// (nil: none) that came from sensitive variables.
func SensitiveValues(forwards []model.Forward, st *state.File) []string {
	var out []string
	for i := range forwards {
		out = append(out, ForwardValues(forwards[i])...)
	}
	if st != nil {
		for _, f := range st.Forwards {
			out = append(out, StateValues(f)...)
		}
	}
	return out
}

// planFieldOf maps a FieldChange's field to the spec field it shows.
var planFieldOf = map[string]string{
	"target":      model.FieldTarget,
	"selector":    model.FieldSelector,
	"context":     model.FieldContext,
	"namespace":   model.FieldNamespace,
	"address":     model.FieldAddress,
	"local_port":  model.FieldLocalPort,
	"remote_port": model.FieldRemotePort,

	"max_connections": model.FieldMaxConnections,
	"health":          model.FieldHealth,
	"hostnames":       model.FieldHostnames,
}

// RedactedPlan is a plan as a view may show it: every value that came
// from a sensitive variable replaced by Redacted (redactedChange). The
// views take a RedactedPlan, never a Plan, so none can skip the step; the
// only way to make one that holds changes is Plan.Redact (the zero value
// is an empty plan).
type RedactedPlan struct{ p Plan }

// Redact is p as every view shows it. p is not modified; a plan with
// nothing sensitive keeps its changes as they are (no copy).
func (p Plan) Redact() RedactedPlan {
	var changes []Change
	for i := range p.Changes {
		c := &p.Changes[i]
		r := redactedChange(c)
		if r == c {
			continue
		}
		if changes == nil {
			changes = slices.Clone(p.Changes)
		}
		changes[i] = *r
	}
	if changes != nil {
		p.Changes = changes
	}
	return RedactedPlan{p: p}
}

// Plan is the redacted plan's data, for a view to render. It shares the
// changes' forwards with the plan it came from: a view must not modify
// them.
func (r RedactedPlan) Plan() Plan { return r.p }

// redactedChange is c as the views show it: every value that came from a
// sensitive variable replaced by Redacted — in the desired forward and the
// field changes (the spec marks them per field), and in what runs (the
// state records which of its fields were sensitive when it started, so a
// forward removed from the spec or no longer sensitive does not show its
// old values), and in the reason (which may quote the runtime). The
// resolved local port stays: it is bound on this machine for anyone to
// see. c is not modified.
func redactedChange(c *Change) *Change {
	d, p := c.Desired, c.Prior
	dSens := d != nil && len(d.Sensitive) > 0
	pSens := p != nil && len(p.Sensitive) > 0
	if !dSens && !pSens {
		return c
	}
	out := *c
	var values []string
	if dSens {
		rd := redactedForward(*d)
		out.Desired = &rd
		values = ForwardValues(*d)
	}
	if pSens {
		rp := redactedState(*p)
		out.Prior = &rp
		values = append(values, StateValues(*p)...)
	}
	out.Reason = redact.New(values...).Scrub(c.Reason)
	if len(c.Fields) > 0 {
		out.Fields = make([]FieldChange, len(c.Fields))
		for i, fc := range c.Fields {
			field := planFieldOf[fc.Field]
			if dSens && d.Sensitive[field] {
				fc.Before, fc.After = Redacted, Redacted
			}
			if pSens && slices.Contains(p.Sensitive, field) {
				fc.Before = Redacted
			}
			out.Fields[i] = fc
		}
	}
	return &out
}

// redactedState is s with the fields that were sensitive when it started
// replaced by Redacted.
func redactedState(s state.Forward) state.Forward {
	for _, field := range s.Sensitive {
		switch field {
		case model.FieldTarget:
			if s.Target != "" {
				s.Target = Redacted
			}
		case model.FieldSelector:
			if len(s.Selector) > 0 {
				s.Selector = map[string]string{Redacted: Redacted}
			}
		case model.FieldContext:
			s.Context = Redacted
		case model.FieldNamespace:
			s.Namespace = Redacted
		case model.FieldAddress:
			s.Address = Redacted
		case model.FieldRemotePort:
			s.RemotePort = Redacted
		case model.FieldHealth:
			if s.Health != "" {
				s.Health = Redacted
			}
		}
	}
	return s
}

// redactedForward is f with its sensitive fields replaced by Redacted.
func redactedForward(f model.Forward) model.Forward {
	s := f.Sensitive
	if s[model.FieldTarget] && !f.Target.IsZero() {
		f.Target = model.Target{Name: Redacted}
	}
	if s[model.FieldSelector] && len(f.Selector) > 0 {
		f.Selector = map[string]string{Redacted: Redacted}
	}
	if s[model.FieldContext] {
		f.Context = Redacted
	}
	if s[model.FieldNamespace] {
		f.Namespace = Redacted
	}
	if s[model.FieldAddress] {
		f.Address = Redacted
	}
	if s[model.FieldRemotePort] {
		f.RemotePort = Redacted
	}
	if s[model.FieldOpen] {
		f.Open = Redacted
	}
	if s[model.FieldHealth] && f.Health.HTTPPath != "" {
		f.Health.HTTPPath = Redacted
	}
	return f
}
