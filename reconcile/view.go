package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/spec/model"
)

// JSONFormatVersion is the version of the plan and status JSON schemas (see
// JSON.md). A change that can break a consumer bumps the major number.
const JSONFormatVersion = "1.1"

// HumanOptions tune RenderHuman.
type HumanOptions struct {
	// Color adds ANSI colours; off for files, pipes and tests.
	Color bool
}

// ANSI colours, all two-digit codes so that coloured cells have equal extra
// width.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiGrey   = "\x1b[90m"
	ansiPlain  = "\x1b[39m"
)

// RenderHuman writes the plan in Terraform's shape: one block per change that
// does something, then a summary line. No-op changes are not shown.
//
// Forwards that cannot be planned (p.Errors) are shown after the changes,
// each with its error, and counted after the summary.
func RenderHuman(w io.Writer, p Plan, opts HumanOptions) error {
	v := humanView{color: opts.Color, b: make([]byte, 0, 64+400*len(p.Changes))}
	if !p.HasChanges() && len(p.Errors) == 0 {
		v.paint(ansiBold+ansiGreen, "No changes.")
		v.b = append(v.b, " Your forwards match the spec.\n"...)
		return v.flush(w)
	}
	if p.HasChanges() {
		v.b = append(v.b, "kpf will perform the following actions:\n"...)
	}
	for i := range p.Changes {
		if p.Changes[i].Action != NoOp {
			v.change(redactedChange(&p.Changes[i]))
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

func (v *humanView) change(c *Change) {
	var verb string
	var mark byte
	switch c.Action {
	case Start:
		verb, mark = "will be started", '+'
	case Stop:
		verb, mark = "will be stopped", '-'
	case Replace:
		verb, mark = "must be replaced", ' '
	case Restart:
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
	case Replace:
		v.paint(ansiRed, "-")
		v.b = append(v.b, '/')
		v.paint(ansiGreen, "+")
	case Restart:
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
func blockLines(c *Change, mark byte) []line {
	ls := make([]line, 0, 8)
	if c.Action == Stop || c.Desired == nil {
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
				line{mark, "local", strconv.Quote(hostPort(p.Address, p.LocalPort)), ""},
				line{mark, "remote_port", strconv.Quote(p.RemotePort), ""})
		}
		return ls
	}
	d := c.Desired
	if c.Action != Replace {
		ls = appendTarget(ls, mark, d)
		return append(ls,
			line{mark, "context", strconv.Quote(d.Context), ""},
			line{mark, "namespace", strconv.Quote(d.Namespace), ""},
			line{mark, "local", strconv.Quote(hostPort(d.Address, c.Port)), ""},
			line{mark, "remote_port", strconv.Quote(d.RemotePort), ""})
	}
	changed := make(map[string]FieldChange, len(c.Fields))
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
	attr("local_port", formatWantedPort(d.LocalPort), false)
	attr("remote_port", d.RemotePort, true)
	for _, key := range [...]string{"max_connections", "health", "runtime"} { // shown when changed
		if _, ok := changed[key]; ok {
			attr(key, "", false)
		}
	}
	return append(ls, line{' ', "local", strconv.Quote(hostPort(d.Address, c.Port)), ""})
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

// hostPort renders address:port, bracketing IPv6; port 0 shows as "?".
func hostPort(address string, port int) string {
	if strings.Contains(address, ":") {
		address = "[" + address + "]"
	}
	if port == 0 {
		return address + ":?"
	}
	return address + ":" + strconv.Itoa(port)
}

// actionWord is an action's name in the JSON schema.
func actionWord(a Action) string {
	switch a {
	case Start:
		return "start"
	case Stop:
		return "stop"
	case Replace:
		return "replace"
	case Restart:
		return "restart"
	}
	return "no-op"
}

type jsonPlan struct {
	FormatVersion string       `json:"format_version"`
	Workspace     string       `json:"workspace"`
	Changes       []jsonChange `json:"changes"`
	// Errors (1.1): forwards that cannot be planned; [] when none.
	Errors []ForwardError `json:"errors"`
	// OutputChanges (1.1): changes of output values; [] when none.
	OutputChanges []jsonOutputChange `json:"output_changes"`
	Summary       Summary            `json:"summary"`
}

type jsonChange struct {
	Name       string            `json:"name"`
	Action     string            `json:"action"`
	Reason     string            `json:"reason"`
	LocalPort  int               `json:"local_port"`
	PortMove   *PortMove         `json:"port_move"`
	Fields     []FieldChange     `json:"fields"`
	Target     string            `json:"target"`
	Selector   map[string]string `json:"selector"`
	Context    string            `json:"context"`
	Namespace  string            `json:"namespace"`
	Address    string            `json:"address"`
	RemotePort string            `json:"remote_port"`
}

// RenderJSON writes the plan as JSON in the schema documented in JSON.md.
// Every change is listed, no-ops included.
func RenderJSON(w io.Writer, p Plan) error {
	out := jsonPlan{
		FormatVersion: JSONFormatVersion,
		Workspace:     p.Workspace,
		Changes:       make([]jsonChange, 0, len(p.Changes)),
		Errors:        append([]ForwardError{}, p.Errors...),
		OutputChanges: jsonOutputChanges(p.Outputs),
		Summary:       p.Summary(),
	}
	for i := range p.Changes {
		c := redactedChange(&p.Changes[i])
		jc := jsonChange{
			Name: c.Name, Action: actionWord(c.Action), Reason: c.Reason,
			LocalPort: c.Port, PortMove: c.PortMove, Fields: c.Fields,
		}
		if jc.Fields == nil {
			jc.Fields = []FieldChange{}
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

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// oneLine keeps a table row on one line and free of tabs.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}
