//go:build linux

package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one row of the report: the baseline, a fault (from its
// injection until the next one's), or the end.
type result struct {
	fault, target string
	start         time.Time
	took          time.Duration // the fault itself, injection to its end
	recovered     time.Duration // from the fault's end until every forward served
	ok            bool          // recovered within the bound

	requests, failed atomic.Int64 // HTTP requests
	late             atomic.Int64 // HTTP requests answered with the greeting (not failed)
	streams, cut     atomic.Int64 // echoed bulk streams; cut short
	corrupt          atomic.Int64 // bytes that came back wrong
	idleCut          atomic.Int64 // idle connections that ended

	pid                     int   // the agent after the fault and a calm gap
	rss                     int64 // its VmRSS, bytes
	fds                     int   // its open fds
	idleChecked, idleFailed int   // the end: idle connections checked

	mu       sync.Mutex
	firstErr string
	note     string
}

// fail books a failed request.
func (r *result) fail(err error) {
	r.failed.Add(1)
	r.noteErr(err)
}

// noteErr keeps the row's first error for the report.
func (r *result) noteErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == "" {
		r.firstErr = err.Error()
	}
}

func (r *result) isFault() bool { return faultByName(r.fault).name != "" }

// renderTable is the report: a Markdown table, a row per fault.
func renderTable(rows []*result, o options) string {
	var b strings.Builder
	mode := "`kpf apply`"
	if o.watch {
		mode = "`kpf apply --watch`"
	}
	fmt.Fprintf(&b, "\n%d native forwards under %s over %d deployments of 2 replicas; %d HTTP and %d stream workers (%d KiB per stream), an idle connection per forward\n\n",
		o.forwards, mode, o.deployments, o.httpWorkers, o.streamWorkers, o.streamBytes>>10)
	b.WriteString("| # | fault | what it hit | fault took | recovered after | failed requests | late requests | streams cut | corrupted bytes | idle conns cut | agent RSS after | agent fds after | first error |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var base *result
	for i, r := range rows {
		if r.fault == "baseline" {
			base = r
		}
		took, rec := "—", "—"
		if r.isFault() {
			took = fmtDur(r.took)
			rec = "not within " + fmtDur(o.recoverWithin)
			if r.ok {
				rec = fmtDur(r.recovered)
			}
		}
		target := r.target
		if r.fault == "end" {
			target = fmt.Sprintf("idle check: %d of %d connections echoed", r.idleChecked-r.idleFailed, r.idleChecked)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d of %d | %d | %d of %d | %d | %d | %s | %s | %s |\n",
			i, r.fault, cell(target), took, rec, r.failed.Load(), r.requests.Load(), r.late.Load(), r.cut.Load(), r.streams.Load(),
			r.corrupt.Load(), r.idleCut.Load(), withDelta(r, base, true), withDelta(r, base, false), cell(firstErr(r)))
	}
	b.WriteString("\nA row books what happened from its fault until the next one; \"recovered after\" runs from the fault's end (pod replaced, API server ready, kwok thawed, connections released) until an HTTP request through every forward was answered. A late request was answered with the backend's greeting: its bytes reached the pod over 200 ms after the connection (slow, not lost; not a failure). RSS is the agent's VmRSS (/proc/PID/status), fds its /proc/PID/fd entries, after a calm gap of " + fmtDur(o.gap) + " (" + fmtDur(o.settle) + " at the end).\n")
	return b.String()
}

func firstErr(r *result) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.TrimSpace(r.firstErr + " " + r.note)
}

// withDelta is a row's agent RSS or fds, with the change from base.
func withDelta(r, base *result, rss bool) string {
	if r.pid == 0 {
		return "no agent"
	}
	pid := ""
	if base != nil && r.pid != base.pid {
		pid = fmt.Sprintf(", pid %d", r.pid)
	}
	if rss {
		if base == nil || r == base {
			return fmtMB(r.rss) + pid
		}
		return fmt.Sprintf("%s (%+.1f)%s", fmtMB(r.rss), float64(r.rss-base.rss)/(1<<20), pid)
	}
	if base == nil || r == base {
		return strconv.Itoa(r.fds)
	}
	return fmt.Sprintf("%d (%+d)", r.fds, r.fds-base.fds)
}

// cell keeps a table cell on one line and short.
func cell(s string) string {
	s = strings.NewReplacer("\n", " ", "|", "/").Replace(s)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// goal is one of the soak's goals, met or not.
type goal struct {
	what string
	ok   bool
	why  string // when missed
	// reported: shown, but not counted as missed. Idle connections cut by
	// a slow reader or a flood through the same tunnel are the data
	// plane's head-of-line blocking, a goal of its own (--isolation-goal
	// counts them).
	reported bool
}

// checkGoals evaluates the goals on the rows of a finished soak.
func checkGoals(rows []*result, o options) []goal {
	var base, end *result
	var corrupt int64
	ran := map[string]bool{}
	var failures, cuts, slow []string
	for _, r := range rows {
		corrupt += r.corrupt.Load()
		f := faultByName(r.fault)
		switch {
		case r.fault == "baseline":
			base = r
		case r.fault == "end":
			end = r
		}
		ran[f.name] = true
		if (f.noFailures || r.fault == "baseline") && r.failed.Load() > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d", r.fault, r.failed.Load()))
		}
		if f.noIdleCuts && r.idleCut.Load() > 0 {
			cuts = append(cuts, fmt.Sprintf("%s: %d", r.fault, r.idleCut.Load()))
		}
		if f.name != "" && !r.ok {
			slow = append(slow, r.fault)
		}
	}
	var notRun []string
	for _, f := range o.faults {
		if !ran[f] {
			notRun = append(notRun, f)
		}
	}
	goals := []goal{
		{"zero corrupted bytes", corrupt == 0, fmt.Sprintf("%d bytes came back wrong", corrupt), false},
		{"zero failed requests in the baseline" + prefixed(" and through ", chosenWith(o.faults, func(f fault) bool { return f.noFailures })),
			len(failures) == 0, strings.Join(failures, "; "), false},
	}
	if cutters := chosenWith(o.faults, func(f fault) bool { return f.noIdleCuts }); cutters != "" {
		goals = append(goals, goal{what: "no idle connection cut by " + cutters, ok: len(cuts) == 0,
			why: strings.Join(cuts, "; "), reported: !o.isolationGoal})
	}
	goals = append(goals, []goal{
		{"every fault recovered within " + fmtDur(o.recoverWithin), len(slow) == 0, "not recovered: " + strings.Join(slow, ", "), false},
		{"every chosen fault ran", len(notRun) == 0, "never ran: " + strings.Join(notRun, ", "), false},
	}...)
	return append(goals, endGoals(base, end, o)...)
}

// endGoals are the goals on the agent and the idle connections at the end.
func endGoals(base, end *result, o options) []goal {
	if base == nil || end == nil || base.pid == 0 || end.pid == 0 {
		return []goal{{"an agent measured at the baseline and at the end", false, "no agent answered", false}}
	}
	rssMax := int64(float64(base.rss)*(1+o.rssSlack)) + int64(o.rssSlackMB)<<20
	fdMax := base.fds + o.fdSlack
	return []goal{
		{fmt.Sprintf("agent RSS at the end within baseline × %.2f + %d MiB (%s)", 1+o.rssSlack, o.rssSlackMB, fmtMB(rssMax)),
			end.rss <= rssMax, fmt.Sprintf("%s at the end, %s at the baseline", fmtMB(end.rss), fmtMB(base.rss)), false},
		{fmt.Sprintf("agent fds at the end within baseline + %d (%d)", o.fdSlack, fdMax),
			end.fds <= fdMax, fmt.Sprintf("%d at the end, %d at the baseline", end.fds, base.fds), false},
		{"every idle connection still open at the end echoes", end.idleFailed == 0,
			fmt.Sprintf("%d of %d did not", end.idleFailed, end.idleChecked), false},
	}
}

// chosenWith names the chosen faults that pred holds for ("a, b").
func chosenWith(chosen []string, pred func(fault) bool) string {
	var names []string
	for _, f := range faults {
		if pred(f) && slices.Contains(chosen, f.name) {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ", ")
}

// prefixed is prefix+s, or "" when s is.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// renderGoals lists the goals, met or missed.
func renderGoals(goals []goal) string {
	var b strings.Builder
	b.WriteString("\nGoals:\n")
	for _, g := range goals {
		switch {
		case g.ok:
			fmt.Fprintf(&b, "- met: %s\n", g.what)
		case g.reported:
			fmt.Fprintf(&b, "- not met, reported only (--isolation-goal counts it): %s: %s\n", g.what, g.why)
		default:
			fmt.Fprintf(&b, "- MISSED: %s: %s\n", g.what, g.why)
		}
	}
	return b.String()
}

// missed counts the goals not met.
func missed(goals []goal) int {
	return len(slices.DeleteFunc(slices.Clone(goals), func(g goal) bool { return g.ok || g.reported }))
}

// procFDs counts the open fds of pid, from /proc/PID/fd.
func procFDs(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("listing the fds of pid %d: %w", pid, err)
	}
	return len(es), nil
}

func fmtDur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
