package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
)

// States a StatusRow can show.
const (
	StatusRunning  = "running"  // the process kpf started is alive
	StatusExited   = "exited"   // kpf started it; it is gone
	StatusFailed   = "failed"   // the last start failed; no process
	StatusStopped  = "stopped"  // in the spec, enabled, not started
	StatusDisabled = "disabled" // in the spec with enabled = false, not running
	StatusOrphaned = "orphaned" // started by kpf, no longer in the spec
)

// HealthFailing is the health a status row shows when the last probe
// failed but fewer times in a row than the forward's failure_threshold.
const HealthFailing = "failing"

// StatusRow is one line of `kpf status`.
type StatusRow struct {
	Name  string
	Local string // address:port
	// Hostname is the forward's first name (hostnames), "" when none or
	// when it came from a sensitive value.
	Hostname string
	// Port is the local port in Local (0: still to be picked); WantedPort
	// the one the spec asks for (0: any). They differ when the wanted port
	// was taken.
	Port, WantedPort int
	Target           string // TYPE/NAME, or the selector as a=1,b=2
	// Selector: the target is a pod selector (Target shows it as a=1,b=2).
	Selector  bool
	Context   string
	Namespace string
	State     string // one of the Status* constants
	Health    string // a HealthState, or "-" when not running
	// CheckAge is how long ago the runtime's last health check ended; -1:
	// none yet, or the runtime does not say.
	CheckAge time.Duration
	// Uptime is since the process started; 0 when not running.
	Uptime    time.Duration
	Restarts  int
	LastError string
	Enabled   bool
	// Runtime and ID name the forward's handle while it runs ("" else).
	Runtime, ID string
	// Pod is the pod the forward sends connections to ("" = unknown).
	Pod string
	// Active and Total connections, BytesIn and BytesOut, Reconnects: as
	// the runtime reports them; -1 = the runtime does not tell.
	Active, Total, BytesIn, BytesOut, Reconnects int64
	// Refused counts connections refused at max_connections; -1 = the
	// runtime does not tell.
	Refused int64
	// Stalled counts connections reset because their client stopped
	// reading; -1 = the runtime does not tell.
	Stalled int64
}

// StatusRows lists every forward of the spec and every forward kpf runs that
// the spec no longer has ("orphaned"), sorted by name. now is used for the
// uptime only.
func StatusRows(forwards []model.Forward, actual Actual, now time.Time) []StatusRow {
	rows := make([]StatusRow, 0, len(forwards)+len(actual))
	seen := make(map[string]struct{}, len(forwards))
	for i := range forwards {
		f := &forwards[i]
		if len(f.Sensitive) > 0 {
			rf := redactedForward(*f)
			f = &rf
		}
		seen[f.Name] = struct{}{}
		row := newStatusRow(f.Name)
		row.Target = targetText(f.Target.String(), f.Selector)
		row.Selector = f.Target.IsZero()
		row.Context, row.Namespace, row.Enabled = f.Context, f.Namespace, f.Enabled
		row.WantedPort = f.LocalPort
		if len(f.Hostnames) > 0 && !f.Sensitive[model.FieldHostnames] {
			row.Hostname = f.Hostnames[0]
		}
		obs, ok := actual[f.Name]
		switch {
		case ok:
			row.fill(obs, now)
		case f.Enabled:
			row.State = StatusStopped
		default:
			row.State = StatusDisabled
		}
		if !ok {
			row.Local, row.Port = HostPort(f.Address, f.LocalPort), f.LocalPort
		}
		row.scrub(ForwardValues(forwards[i]), StateValues(obs.State))
		rows = append(rows, row)
	}
	for _, name := range slices.Sorted(maps.Keys(actual)) {
		if _, ok := seen[name]; ok {
			continue
		}
		obs := actual[name]
		row := newStatusRow(name)
		row.fill(obs, now)
		row.State = StatusOrphaned
		row.WantedPort = obs.State.WantedPort
		if h := obs.State.Hostnames; len(h) > 0 && !slices.Contains(obs.State.Sensitive, model.FieldHostnames) {
			row.Hostname = h[0]
		}
		row.scrub(StateValues(obs.State))
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b StatusRow) int { return strings.Compare(a.Name, b.Name) })
	return rows
}

// scrub replaces the sensitive values in what the runtime said of the
// forward (its last error, its pod: a pod's name shows its deployment's).
func (r *StatusRow) scrub(values ...[]string) {
	var all []string
	for _, v := range values {
		all = append(all, v...)
	}
	if len(all) == 0 {
		return
	}
	s := redact.New(all...)
	r.LastError, r.Pod = s.Scrub(r.LastError), s.Scrub(r.Pod)
}

// newStatusRow is the row of a forward nothing is known of yet.
func newStatusRow(name string) StatusRow {
	return StatusRow{Name: name, Health: "-", CheckAge: -1, Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1}
}

// fill sets what the observed state says.
func (r *StatusRow) fill(obs Observed, now time.Time) {
	st := obs.State
	if len(st.Sensitive) > 0 {
		st = redactedState(st)
	}
	r.Local, r.Port = HostPort(st.Address, st.LocalPort), st.LocalPort
	if r.Target == "" {
		r.Target = targetText(st.Target, st.Selector)
		r.Selector = st.Target == ""
	}
	// What runs, unless the spec's value is sensitive (then it stays
	// redacted).
	if r.Context != Redacted {
		r.Context = st.Context
	}
	if r.Namespace != Redacted {
		r.Namespace = st.Namespace
	}
	r.Restarts = st.Restarts
	if obs.Alive && obs.Runtime.Restarts > 0 {
		r.Restarts += obs.Runtime.Restarts // the runtime started it again by itself
	}
	r.LastError = obs.LastError
	if r.LastError == "" {
		r.LastError = st.LastError
	}
	switch {
	case obs.Alive:
		r.State = StatusRunning
		r.Runtime, r.ID = st.Handle.Runtime, st.Handle.ID
		rs := obs.Runtime
		r.Pod, r.Active, r.Total, r.BytesIn, r.BytesOut, r.Reconnects = rs.Pod, rs.Active, rs.Total, rs.BytesIn, rs.BytesOut, rs.Reconnects
		r.Refused, r.Stalled = rs.Refused, rs.Stalled
		r.Health = string(obs.Health)
		if r.Health == "" {
			r.Health = string(HealthUnknown)
		}
		if obs.HealthError != "" && obs.Health != HealthUnhealthy {
			// The last probe failed, fewer times in a row than
			// failure_threshold: not unhealthy yet, but say so.
			r.Health = HealthFailing
		}
		if obs.HealthError != "" && r.LastError == "" {
			r.LastError = obs.HealthError
		}
		if last := rs.LastCheck; !last.IsZero() {
			r.CheckAge = max(now.Sub(last), 0)
		}
		started := st.StartedAt
		if since := rs.Since; since.After(started) {
			started = since // started again by the runtime itself
		}
		if !started.IsZero() && now.After(started) {
			r.Uptime = now.Sub(started)
		}
	case st.Handle.IsZero():
		r.State = StatusFailed
	default:
		r.State = StatusExited
	}
}

// HostPort renders address:port as every view shows a local address,
// bracketing IPv6; port 0 (still to be picked) shows as "?".
func HostPort(address string, port int) string {
	if strings.Contains(address, ":") {
		address = "[" + address + "]"
	}
	if port == 0 {
		return address + ":?"
	}
	return address + ":" + strconv.Itoa(port)
}

func targetText(target string, sel map[string]string) string {
	if target != "" {
		return target
	}
	return runtime.FormatSelector(sel)
}

// FormatUptime renders a duration compactly: 45s, 12m3s, 3h2m, 2d3h; "-"
// for zero.
func FormatUptime(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, (d%time.Minute)/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
}

// LocalText is the local address a view shows: Local, and the port the
// spec asks for when the forward is on another one ("127.0.0.1:8081 (wants
// 8080)").
func (r StatusRow) LocalText() string {
	local := r.Reach()
	if r.WantedPort > 0 && r.Port > 0 && r.Port != r.WantedPort {
		return local + " (wants " + strconv.Itoa(r.WantedPort) + ")"
	}
	return local
}

// Reach is where the forward is reached: NAME:PORT when it has a name
// (hostnames), else Local.
func (r StatusRow) Reach() string {
	if r.Hostname != "" && r.Port > 0 {
		return HostPort(r.Hostname, r.Port)
	}
	return r.Local
}

// HealthText is the health a view shows: an idle forward's with the age
// of its last check ("idle 4m"; plain "idle" when it never had one).
func (r StatusRow) HealthText() string {
	if r.Health == string(HealthIdle) && r.CheckAge >= 0 {
		return r.Health + " " + FormatUptime(max(r.CheckAge, time.Second))
	}
	return r.Health
}

// WorkspaceStatus is one workspace's rows for `kpf status --all`.
type WorkspaceStatus struct {
	Name string // the workspace's name ("" when its state does not say)
	Path string // its directory
	Rows []StatusRow
}
