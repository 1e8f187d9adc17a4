package spec

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/kpf-dev/kpf/spec/model"
)

// Sensitive values. A variable declared with sensitive = true has its value
// marked (a go-cty mark); HCL and go-cty carry the mark into everything
// computed from it (locals, templates, function results). Diagnostics never
// show a marked value, and a Forward records in Sensitive which of its
// fields hold one, so that views can redact them.
//
// Values given on the command line (--var) or in the environment
// (KPF_VAR_name) are never shown in diagnostics, sensitive or not: the
// synthetic source kept for them holds valueHidden instead of the value,
// and their values carry hiddenMark, which diagnostics redact like
// sensitiveMark (but which Forward.Sensitive does not record: plans may
// show them).

// sensitiveMark is the go-cty mark of values from sensitive variables.
type markKind string

const sensitiveMark = markKind("sensitive")

// hiddenMark is the go-cty mark of values from --var and KPF_VAR_name.
const hiddenMark = markKind("outside")

// hiddenText stands for a value from --var or the environment.
const hiddenText = "(a value from --var or KPF_VAR_name, not shown)"

// sensitiveText stands for a sensitive value in diagnostics.
const sensitiveText = "(sensitive value)"

// valueHidden is the source text kept for a value from --var or the
// environment, in place of the value.
const valueHidden = "(value not shown)"

// Field names of Forward.Sensitive (defined in spec/model).
const (
	FieldTarget     = model.FieldTarget
	FieldSelector   = model.FieldSelector
	FieldContext    = model.FieldContext
	FieldNamespace  = model.FieldNamespace
	FieldAddress    = model.FieldAddress
	FieldLocalPort  = model.FieldLocalPort
	FieldRemotePort = model.FieldRemotePort
	FieldEnabled    = model.FieldEnabled
	FieldOpen       = model.FieldOpen
	FieldHealth     = model.FieldHealth
	FieldHostnames  = model.FieldHostnames

	FieldMaxConnections = model.FieldMaxConnections
)

// record notes in sens whether field was set from a sensitive attribute;
// a field set from a plain attribute is no longer sensitive (a forward's
// own value replaces the default's).
func (e *evaluator) record(sens *map[string]bool, field string, a *hcl.Attribute) {
	if a == nil {
		return
	}
	if e.sensitive[a] {
		if *sens == nil {
			*sens = map[string]bool{}
		}
		(*sens)[field] = true
		return
	}
	delete(*sens, field)
}

// anySensitive reports whether a block's attributes include a sensitive one.
func (e *evaluator) anySensitive(rb *rawBlock) bool {
	if rb == nil || len(e.sensitive) == 0 {
		return false
	}
	for _, a := range rb.attrs {
		if e.sensitive[a] {
			return true
		}
	}
	return false
}
