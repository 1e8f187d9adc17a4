package views

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec/model"
)

// renderHuman writes the plan in Terraform's shape: one block per change
// that does something, then a summary line. No-op changes are not shown.
//
// Forwards that cannot be planned (p.Errors) are shown after the changes,
// each with its error, and counted after the summary.
func renderHuman(w io.Writer, rp reconcile.RedactedPlan, color bool) error {
	p := rp.Plan()
	v := humanView{color: color, b: make([]byte, 0, 64+400*len(p.Changes))}
	if !p.HasChanges() && len(p.Errors) == 0 {
		v.paint(ansiBold+ansiGreen, "No changes.")
		v.b = append(v.b, " Your forwards match the spec.\n"...)
		return v.flush(w)
	}
	if p.HasChanges() {
		v.b = append(v.b, "kpf will perform the following actions:\n"...)
	}
	for i := range p.Changes {
		if p.Changes[i].Action != reconcile.NoOp {
			v.change(&p.Changes[i])
		}
	}
	for _, e := range p.Errors {
		v.b = append(v.b, "\n  "...)
		v.paint(ansiBold+ansiRed, "# forward."+termtext.Escape(e.Name)+" cannot be planned")
		v.b = append(v.b, "\n  # ("...)
		v.b = append(v.b, termtext.Escape(oneLine(e.Error))...)
		v.b = append(v.b, ")\n"...)
	}
	s := p.Summary()
	v.b = append(v.b, '\n')
	if p.HasChanges() {
		v.paint(ansiBold, "Plan:")
		v.b = fmt.Appendf(v.b, " %d to start, %d to replace, %d to restart, %d to stop.",
			s.Start, s.Replace, s.Restart, s.Stop)
	} else {
		v.b = append(v.b, "No changes to the other forwards."...)
	}
	if n := len(p.Errors); n > 0 {
		v.b = append(v.b, ' ')
		v.paint(ansiBold+ansiRed, plural(n, "forward")+" cannot be planned.")
	}
	v.b = append(v.b, '\n')
	v.outputs(p.Outputs)
	return v.flush(w)
}

type humanView struct {
	color bool
	b     []byte
}

// line is one attribute of a block: marker (+, -, ~ or space), key, value.
type line struct {
	marker byte
	key    string
	value  string
	note   string
}

func (v *humanView) paint(code, s string) {
	if v.color && code != "" {
		v.b = append(v.b, code...)
		v.b = append(v.b, s...)
		v.b = append(v.b, ansiReset...)
		return
	}
	v.b = append(v.b, s...)
}

func (v *humanView) flush(w io.Writer) error {
	if _, err := w.Write(v.b); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	return nil
}

func markerColor(m byte) string {
	switch m {
	case '+':
		return ansiGreen
	case '-':
		return ansiRed
	case '~':
		return ansiYellow
	}
	return ""
}

func (v *humanView) change(c *reconcile.Change) {
	var verb string
	var mark byte
	switch c.Action {
	case reconcile.Start:
		verb, mark = "will be started", '+'
	case reconcile.Stop:
		verb, mark = "will be stopped", '-'
	case reconcile.Replace:
		verb, mark = "must be replaced", ' '
	case reconcile.Restart:
		verb, mark = "will be restarted", ' '
	}
	v.b = append(v.b, "\n  "...)
	v.paint(ansiBold, "# forward."+termtext.Escape(c.Name))
	v.b = append(v.b, ' ')
	v.paint(ansiBold, verb)
	v.b = append(v.b, '\n')
	if c.Reason != "" {
		v.b = append(v.b, "  # ("...)
		v.b = append(v.b, termtext.Escape(c.Reason)...)
		v.b = append(v.b, ")\n"...)
	}
	switch c.Action {
	case reconcile.Replace:
		v.paint(ansiRed, "-")
		v.b = append(v.b, '/')
		v.paint(ansiGreen, "+")
	case reconcile.Restart:
		v.b = append(v.b, "  "...)
		v.paint(ansiYellow, "~")
	default:
		v.b = append(v.b, "  "...)
		v.paint(markerColor(mark), string(mark))
	}
	v.b = append(v.b, " forward "...)
	v.b = strconv.AppendQuote(v.b, c.Name)
	v.b = append(v.b, " {\n"...)
	v.lines(blockLines(c, mark))
	v.b = append(v.b, "    }\n"...)
	if m := c.PortMove; m != nil {
		if m.Got == 0 {
			v.b = fmt.Appendf(v.b, "    # no local port: %s\n", termtext.Escape(m.Reason))
		} else {
			v.b = fmt.Appendf(v.b, "    # local port %d instead of %d: %s\n", m.Got, m.Wanted, termtext.Escape(m.Reason))
		}
	}
}

func (v *humanView) lines(ls []line) {
	width := 0
	for _, l := range ls {
		width = max(width, len(l.key))
	}
	for _, l := range ls {
		v.b = append(v.b, "      "...)
		v.paint(markerColor(l.marker), string(l.marker))
		v.b = append(v.b, ' ')
		v.b = append(v.b, l.key...)
		for range width - len(l.key) {
			v.b = append(v.b, ' ')
		}
		v.b = append(v.b, " = "...)
		v.b = append(v.b, l.value...)
		if l.note != "" {
			v.b = append(v.b, ' ')
			v.paint(ansiGrey, l.note)
		}
		v.b = append(v.b, '\n')
	}
}

// blockLines lists a change's attributes. For Stop they come from what runs,
// otherwise from the spec; Replace marks the fields that changed.
func blockLines(c *reconcile.Change, mark byte) []line {
	ls := make([]line, 0, 8)
	if c.Action == reconcile.Stop || c.Desired == nil {
		if p := c.Prior; p != nil {
			if p.Target != "" {
				ls = append(ls, line{mark, "target", strconv.Quote(p.Target), ""})
			}
			if len(p.Selector) > 0 {
				ls = append(ls, line{mark, "selector", hclMap(p.Selector), ""})
			}
			ls = append(ls,
				line{mark, "context", strconv.Quote(p.Context), ""},
				line{mark, "namespace", strconv.Quote(p.Namespace), ""},
				line{mark, "local", strconv.Quote(reconcile.HostPort(p.Address, p.LocalPort)), ""},
				line{mark, "remote_port", strconv.Quote(p.RemotePort), ""})
		}
		return ls
	}
	d := c.Desired
	if c.Action != reconcile.Replace {
		ls = appendTarget(ls, mark, d)
		return append(ls,
			line{mark, "context", strconv.Quote(d.Context), ""},
			line{mark, "namespace", strconv.Quote(d.Namespace), ""},
			line{mark, "local", strconv.Quote(reconcile.HostPort(d.Address, c.Port)), ""},
			line{mark, "remote_port", strconv.Quote(d.RemotePort), ""})
	}
	changed := make(map[string]reconcile.FieldChange, len(c.Fields))
	for _, fc := range c.Fields {
		changed[fc.Field] = fc
	}
	attr := func(key, value string, quote bool) {
		if fc, ok := changed[key]; ok {
			note := ""
			if fc.ForcesReplace {
				note = "# forces replacement"
			}
			ls = append(ls, line{'~', key, fieldValue(key, fc.Before) + " -> " + fieldValue(key, fc.After), note})
			return
		}
		if value == "" {
			return
		}
		if quote {
			value = strconv.Quote(value)
		}
		ls = append(ls, line{' ', key, value, ""})
	}
	attr("target", d.Target.String(), true)
	if _, ok := changed["selector"]; ok {
		attr("selector", "", false)
	} else if len(d.Selector) > 0 {
		ls = append(ls, line{' ', "selector", hclMap(d.Selector), ""})
	}
	attr("context", d.Context, true)
	attr("namespace", d.Namespace, true)
	attr("address", d.Address, true)
	attr("local_port", reconcile.FormatWantedPort(d.LocalPort), false)
	attr("remote_port", d.RemotePort, true)
	for _, key := range [...]string{"max_connections", "health", "runtime"} { // shown when changed
		if _, ok := changed[key]; ok {
			attr(key, "", false)
		}
	}
	return append(ls, line{' ', "local", strconv.Quote(reconcile.HostPort(d.Address, c.Port)), ""})
}

func appendTarget(ls []line, mark byte, d *model.Forward) []line {
	if !d.Target.IsZero() {
		ls = append(ls, line{mark, "target", strconv.Quote(d.Target.String()), ""})
	}
	if len(d.Selector) > 0 {
		ls = append(ls, line{mark, "selector", hclMap(d.Selector), ""})
	}
	return ls
}

// fieldValue renders one side of a FieldChange.
func fieldValue(field, s string) string {
	switch {
	case s == "":
		return "null"
	case field == "local_port" || field == "max_connections" || field == "health":
		return s
	case field == "selector":
		sel := map[string]string{}
		for kv := range strings.SplitSeq(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			sel[k] = v
		}
		return hclMap(sel)
	}
	return strconv.Quote(s)
}

// hclMap renders labels as an HCL object: { app = "db", tier = "data" }.
func hclMap(m map[string]string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(termtext.Escape(k))
		b.WriteString(" = ")
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteString(" }")
	return b.String()
}

// outputs renders the output changes as Terraform does.
func (v *humanView) outputs(changes []reconcile.OutputChange) {
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
		case reconcile.OutputCreate:
			mark, code = '+', ansiGreen
		case reconcile.OutputDelete:
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
		case c.Action == reconcile.OutputCreate:
			v.b = append(v.b, outputText(c.After)...)
		case c.Action == reconcile.OutputDelete:
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

func outputText(o reconcile.OutputValue) string {
	if !o.Known {
		return "(known after apply)"
	}
	if len(o.JSON) > 0 && o.JSON[0] == '"' {
		return termtext.Escape(strconv.Quote(o.Text))
	}
	return termtext.Escape(o.Text)
}
