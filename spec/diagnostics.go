package spec

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics writes diags for a terminal: each with its source
// snippet from files, wrapped at width (0 = no wrapping), coloured when
// color is true.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool, width uint) error {
	if len(diags) == 0 {
		return nil
	}
	if err := hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags); err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}
	return nil
}

// WriteDiagnostics writes diags with snippets from the files of the last Load.
func (l *Loader) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool, width uint) error {
	return WriteDiagnostics(w, l.files, diags, color, width)
}

// FormatDiagnosticsPlain renders diags for a non-terminal: one line each,
// "file:line:col: error: summary: detail", ending in a newline.
func FormatDiagnosticsPlain(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		b.WriteString(sev)
		b.WriteString(": ")
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(strings.Join(strings.Fields(d.Detail), " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
