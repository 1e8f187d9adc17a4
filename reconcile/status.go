package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/termtext"
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
	Context          string
	Namespace        string
	State            string // one of the Status* constants
	Health           string // a HealthState, or "-" when not running
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
			row.Local, row.Port = hostPort(f.Address, f.LocalPort), f.LocalPort
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
	r.Local, r.Port = hostPort(st.Address, st.LocalPort), st.LocalPort
	if r.Target == "" {
		r.Target = targetText(st.Target, st.Selector)
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

func stateColor(state string) string {
	switch state {
	case StatusRunning:
		return ansiGreen
	case StatusExited, StatusFailed:
		return ansiRed
	case StatusOrphaned:
		return ansiYellow
	case StatusStopped, StatusDisabled:
		return ansiGrey
	}
	return ansiPlain
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
		return hostPort(r.Hostname, r.Port)
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

func healthColor(h string) string {
	switch HealthState(h) {
	case HealthHealthy:
		return ansiGreen
	case HealthUnhealthy:
		return ansiRed
	case HealthFailing:
		return ansiYellow
	case HealthIdle:
		return ansiGrey
	}
	return ansiPlain
}

// RenderStatusTable writes rows as an aligned table. With color, the state
// and health columns are coloured (every cell of a column carries escapes of
// the same width, so the alignment holds).
func RenderStatusTable(w io.Writer, rows []StatusRow, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cell := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(tw, "NAME\tLOCAL\tTARGET\tCONTEXT\tNAMESPACE\t%s\t%s\tPOD\tCONNS\tUPTIME\tRESTARTS\tLAST ERROR\n",
		cell(ansiPlain, "STATE"), cell(ansiPlain, "HEALTH"))
	for _, r := range rows {
		lastErr := r.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		e := termtext.Escape
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			e(r.Name), e(r.LocalText()), e(dash(r.Target)), e(dash(r.Context)), e(dash(r.Namespace)),
			cell(stateColor(r.State), e(r.State)), cell(healthColor(r.Health), e(r.HealthText())),
			e(dash(r.Pod)), conns(r), FormatUptime(r.Uptime), r.Restarts, e(oneLine(lastErr)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// conns is "active/total" connections, and how many were refused at
// max_connections or reset because their client stopped reading (stalled)
// if any; "-" where the runtime does not count.
func conns(r StatusRow) string {
	if r.Active < 0 || r.Total < 0 {
		return "-"
	}
	s := strconv.FormatInt(r.Active, 10) + "/" + strconv.FormatInt(r.Total, 10)
	var notes []string
	if r.Refused > 0 {
		notes = append(notes, strconv.FormatInt(r.Refused, 10)+" refused")
	}
	if r.Stalled > 0 { // reset: their clients stopped reading
		notes = append(notes, strconv.FormatInt(r.Stalled, 10)+" stalled")
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a table row on one line and free of tabs.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}

type jsonStatus struct {
	FormatVersion string           `json:"format_version"`
	Forwards      []jsonStatusLine `json:"forwards"`
	Stats         any              `json:"stats,omitempty"`
}

type jsonStatusLine struct {
	Name      string `json:"name"`
	Local     string `json:"local"`
	Hostname  string `json:"hostname,omitempty"`
	Wanted    int    `json:"wanted_port"`
	Target    string `json:"target"`
	Context   string `json:"context"`
	Namespace string `json:"namespace"`
	State     string `json:"state"`
	Health    string `json:"health"`
	// CheckAge: seconds since the last health check ended (absent: none,
	// or the runtime does not say).
	CheckAge      *float64 `json:"health_check_age_seconds,omitempty"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	Restarts      int      `json:"restarts"`
	LastError     string   `json:"last_error"`
	Enabled       bool     `json:"enabled"`
	Runtime       string   `json:"runtime,omitempty"`
	ID            string   `json:"id,omitempty"`
	Pod           string   `json:"pod,omitempty"`
	Active        *int64   `json:"active_connections,omitempty"`
	Total         *int64   `json:"total_connections,omitempty"`
	BytesIn       *int64   `json:"bytes_in,omitempty"`
	BytesOut      *int64   `json:"bytes_out,omitempty"`
	Reconnects    *int64   `json:"reconnects,omitempty"`
	Refused       *int64   `json:"refused_connections,omitempty"`
	Stalled       *int64   `json:"stalled_connections,omitempty"`
}

// known is nil for a counter the runtime does not report (-1).
func known(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

// ageSeconds is d in whole seconds, nil when unknown (negative).
func ageSeconds(d time.Duration) *float64 {
	if d < 0 {
		return nil
	}
	s := d.Truncate(time.Second).Seconds()
	return &s
}

// WorkspaceStatus is one workspace's rows for `kpf status --all`.
type WorkspaceStatus struct {
	Name string // the workspace's name ("" when its state does not say)
	Path string // its directory
	Rows []StatusRow
}

type jsonAllStatus struct {
	FormatVersion string              `json:"format_version"`
	Workspaces    []jsonWorkspaceRows `json:"workspaces"`
}

type jsonWorkspaceRows struct {
	Workspace string           `json:"workspace"`
	Path      string           `json:"path"`
	Forwards  []jsonStatusLine `json:"forwards"`
}

// RenderStatusAllJSON writes the rows of every workspace as JSON: each
// workspace's forwards in the schema of RenderStatusJSON (JSON.md), so
// that every status output has one versioned shape.
func RenderStatusAllJSON(w io.Writer, workspaces []WorkspaceStatus) error {
	out := jsonAllStatus{FormatVersion: JSONFormatVersion, Workspaces: make([]jsonWorkspaceRows, 0, len(workspaces))}
	for _, ws := range workspaces {
		out.Workspaces = append(out.Workspaces, jsonWorkspaceRows{Workspace: ws.Name, Path: ws.Path, Forwards: statusLines(ws.Rows)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing status as json: %w", err)
	}
	return nil
}

// RenderStatusJSON writes rows as JSON (schema in JSON.md).
func RenderStatusJSON(w io.Writer, rows []StatusRow) error {
	return RenderStatusJSONWithStats(w, rows, nil)
}

// RenderStatusJSONWithStats is RenderStatusJSON with a "stats" object
// (`kpf status --stats`); nil leaves it out.
func RenderStatusJSONWithStats(w io.Writer, rows []StatusRow, stats any) error {
	out := jsonStatus{FormatVersion: JSONFormatVersion, Forwards: statusLines(rows), Stats: stats}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing status as json: %w", err)
	}
	return nil
}

// statusLines are rows in the JSON schema.
func statusLines(rows []StatusRow) []jsonStatusLine {
	out := make([]jsonStatusLine, 0, len(rows))
	for _, r := range rows {
		out = append(out, jsonStatusLine{
			Name: r.Name, Local: r.Local, Hostname: r.Hostname, Wanted: r.WantedPort, Target: r.Target, Context: r.Context,
			Namespace: r.Namespace, State: r.State, Health: r.Health, CheckAge: ageSeconds(r.CheckAge),
			UptimeSeconds: r.Uptime.Truncate(time.Second).Seconds(), Restarts: r.Restarts,
			LastError: r.LastError, Enabled: r.Enabled, Runtime: r.Runtime, ID: r.ID, Pod: r.Pod,
			Active: known(r.Active), Total: known(r.Total), BytesIn: known(r.BytesIn),
			BytesOut: known(r.BytesOut), Reconnects: known(r.Reconnects), Refused: known(r.Refused), Stalled: known(r.Stalled),
		})
	}
	return out
}
