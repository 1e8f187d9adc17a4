package views

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
)

// Progress is the human view of an apply: one line per forward acted on
// ("forward.api: started on 127.0.0.1:8080 (1 attempt)"), one per
// unreachable cluster, and "The spec loads again." in a watch. Each line
// is escaped for the terminal, whatever names and errors hold.
type Progress struct {
	W  io.Writer
	mu sync.Mutex
}

var _ reconcile.Hook = (*Progress)(nil)

// NewProgress writes the lines to w.
func NewProgress(w io.Writer) *Progress { return &Progress{W: w} }

func (p *Progress) line(ev any) {
	name, text, _, ok := Text(ev)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if name == "" {
		fmt.Fprintln(p.W, termtext.Escape(sentence(text)))
		return
	}
	fmt.Fprintln(p.W, termtext.Escape("forward."+name+": "+text))
}

// sentence is a workspace-wide event's text as a line of its own.
func sentence(text string) string {
	if text == "" || strings.HasPrefix(text, "forward.") {
		return text
	}
	return strings.ToUpper(text[:1]) + text[1:] + "."
}

func (p *Progress) PlanReady(e reconcile.PlanReady)                   { p.line(e) }
func (p *Progress) ActionStarted(e reconcile.ActionStarted)           { p.line(e) }
func (p *Progress) ActionRetried(e reconcile.ActionRetried)           { p.line(e) }
func (p *Progress) ActionSucceeded(e reconcile.ActionSucceeded)       { p.line(e) }
func (p *Progress) ActionFailed(e reconcile.ActionFailed)             { p.line(e) }
func (p *Progress) ClusterUnreachable(e reconcile.ClusterUnreachable) { p.line(e) }
func (p *Progress) ForwardExited(e reconcile.ForwardExited)           { p.line(e) }
func (p *Progress) HealthChanged(e reconcile.HealthChanged)           { p.line(e) }
func (p *Progress) SpecReloaded(e reconcile.SpecReloaded)             { p.line(e) }
func (p *Progress) SpecBroken(e reconcile.SpecBroken)                 { p.line(e) }

// Text is what the human views say of an event: the forward it is about
// ("" for the workspace), the words (not escaped), whether it is a
// failure, and ok false for the events they do not show (the JSON view
// shows every event).
func Text(ev any) (forward, text string, failed, ok bool) {
	switch e := ev.(type) {
	case reconcile.ActionSucceeded:
		return e.Forward, succeeded(e), false, true
	case reconcile.ActionFailed:
		if e.NotReached { // told once per cluster by ClusterUnreachable
			return "", "", false, false
		}
		return e.Forward, fmt.Sprintf("failed after %s: %s", plural(e.Attempts, "attempt"), e.Error), true, true
	case reconcile.ClusterUnreachable:
		names := make([]string, len(e.Forwards))
		for i, n := range e.Forwards {
			names[i] = "forward." + n
		}
		return "", fmt.Sprintf("%s: not applied: %s", forwardList(names), e.Error), true, true
	case reconcile.SpecReloaded:
		if e.Recovered {
			return "", "the spec loads again", false, true
		}
	}
	return "", "", false, false
}

func succeeded(e reconcile.ActionSucceeded) string {
	switch {
	case e.Action == reconcile.Stop && e.NeverRan:
		return "removed (it never started)"
	case e.Action == reconcile.Stop:
		return "stopped"
	}
	verb := map[reconcile.Action]string{reconcile.Start: "started", reconcile.Restart: "restarted", reconcile.Replace: "replaced"}[e.Action]
	note := ""
	if e.MovedFrom != 0 {
		note = fmt.Sprintf("; port %d was in use", e.MovedFrom)
	}
	if e.Reason != "" {
		note += "; " + e.Reason
	}
	return fmt.Sprintf("%s on %s (%s%s)", verb, net.JoinHostPort(e.Address, strconv.Itoa(e.Port)), plural(e.Attempts, "attempt"), note)
}

// forwardList joins names for one line: the first few, then how many more.
func forwardList(names []string) string {
	const shown = 5
	if len(names) <= shown+1 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
