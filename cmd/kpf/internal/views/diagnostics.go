package views

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/kpf-dev/kpf/reconcile"
)

// FromHCL is ds as plain data; scrub (nil: none) hides sensitive values in
// their texts.
func FromHCL(ds hcl.Diagnostics, scrub func(string) string) []reconcile.Diagnostic {
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	out := make([]reconcile.Diagnostic, 0, len(ds))
	for _, d := range ds {
		pd := reconcile.Diagnostic{Severity: reconcile.SeverityError, Summary: scrub(d.Summary), Detail: scrub(d.Detail)}
		if d.Severity == hcl.DiagWarning {
			pd.Severity = reconcile.SeverityWarning
		}
		if r := d.Subject; r != nil {
			pd.Range = &reconcile.SourceRange{
				Filename: r.Filename,
				Start:    reconcile.SourcePos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:      reconcile.SourcePos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
			}
		}
		out = append(out, pd)
	}
	return out
}

// HasErrors reports whether ds holds an error.
func HasErrors(ds []reconcile.Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == reconcile.SeverityError {
			return true
		}
	}
	return false
}

// FirstError is the line a one-line view (the live view's footer) shows
// for ds: the first error as "file:line:col: error: summary: detail", else
// the first diagnostic.
func FirstError(ds []reconcile.Diagnostic) string {
	for _, d := range ds {
		if d.Severity == reconcile.SeverityError {
			return Line(d)
		}
	}
	if len(ds) > 0 {
		return Line(ds[0])
	}
	return ""
}

// Line is d in one line, as spec.FormatDiagnosticsPlain writes it.
func Line(d reconcile.Diagnostic) string {
	s := d.String()
	if d.Detail != "" {
		s += ": " + strings.Join(strings.Fields(d.Detail), " ")
	}
	return s
}
