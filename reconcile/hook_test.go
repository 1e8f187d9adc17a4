package reconcile

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// lineHook writes a line per event that ends an action, in the words of
// kpf's progress lines, so that tests read the events as text. It also
// keeps the events.
type lineHook struct {
	NoHook
	w io.Writer

	mu     sync.Mutex
	events []any
}

func (h *lineHook) keep(ev any, format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	if format != "" && h.w != nil {
		fmt.Fprintf(h.w, format+"\n", args...)
	}
}

func (h *lineHook) all() []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]any(nil), h.events...)
}

func (h *lineHook) PlanReady(e PlanReady)         { h.keep(e, "") }
func (h *lineHook) ActionStarted(e ActionStarted) { h.keep(e, "") }
func (h *lineHook) ActionRetried(e ActionRetried) { h.keep(e, "") }
func (h *lineHook) ForwardExited(e ForwardExited) { h.keep(e, "") }
func (h *lineHook) HealthChanged(e HealthChanged) { h.keep(e, "") }
func (h *lineHook) SpecReloaded(e SpecReloaded)   { h.keep(e, "") }
func (h *lineHook) SpecBroken(e SpecBroken)       { h.keep(e, "") }

func (h *lineHook) ActionSucceeded(e ActionSucceeded) {
	switch {
	case e.Action == Stop && e.NeverRan:
		h.keep(e, "forward.%s: removed (it never started)", e.Forward)
	case e.Action == Stop:
		h.keep(e, "forward.%s: stopped", e.Forward)
	default:
		verb := map[Action]string{Start: "started", Restart: "restarted", Replace: "replaced"}[e.Action]
		note := ""
		if e.MovedFrom != 0 {
			note = fmt.Sprintf("; port %d was in use", e.MovedFrom)
		}
		if e.Reason != "" {
			note += "; " + e.Reason
		}
		h.keep(e, "forward.%s: %s on %s (%s%s)", e.Forward, verb, net.JoinHostPort(e.Address, strconv.Itoa(e.Port)), plural(e.Attempts, "attempt"), note)
	}
}

func (h *lineHook) ActionFailed(e ActionFailed) {
	if e.NotReached {
		h.keep(e, "")
		return
	}
	h.keep(e, "forward.%s: failed after %s: %s", e.Forward, plural(e.Attempts, "attempt"), e.Error)
}

func (h *lineHook) ClusterUnreachable(e ClusterUnreachable) {
	names := make([]string, len(e.Forwards))
	for i, n := range e.Forwards {
		names[i] = "forward." + n
	}
	h.keep(e, "%s: not applied: %s", strings.Join(names, ", "), e.Error)
}

// plural is "1 word" or "n words", as the progress lines count.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
