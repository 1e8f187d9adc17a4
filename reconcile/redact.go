package reconcile

import "github.com/kpf-dev/kpf/spec/model"

// Redacted stands for a value that came from a sensitive variable.
const Redacted = "(sensitive value)"

// planFieldOf maps a FieldChange's field to the spec field it shows.
var planFieldOf = map[string]string{
	"target":      model.FieldTarget,
	"selector":    model.FieldSelector,
	"context":     model.FieldContext,
	"namespace":   model.FieldNamespace,
	"address":     model.FieldAddress,
	"local_port":  model.FieldLocalPort,
	"remote_port": model.FieldRemotePort,
}

// redactedChange is c as the views show it: every value that came from a
// sensitive variable (the spec marks them per field) replaced by Redacted,
// in the desired forward and in the field changes. The resolved local port
// stays: it is bound on this machine for anyone to see. c is not modified.
func redactedChange(c *Change) *Change {
	d := c.Desired
	if d == nil || len(d.Sensitive) == 0 {
		return c
	}
	out := *c
	rd := redactedForward(*d)
	out.Desired = &rd
	if len(c.Fields) > 0 {
		out.Fields = make([]FieldChange, len(c.Fields))
		for i, fc := range c.Fields {
			if d.Sensitive[planFieldOf[fc.Field]] {
				fc.Before, fc.After = Redacted, Redacted
			}
			out.Fields[i] = fc
		}
	}
	return &out
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
	return f
}
