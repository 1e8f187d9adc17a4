package views

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
)

// Status shows what `kpf status` found: one workspace's rows, or every
// workspace's (`--all`). NewStatus picks the implementation once, human
// or JSON; commands only call its methods.
type Status interface {
	// Forwards shows one workspace's rows, and stats when not nil
	// (`kpf status --stats`).
	Forwards(rows []reconcile.StatusRow, stats *StatusStats) error
	// Workspaces shows every workspace's rows (`kpf status --all`).
	Workspaces(ws []reconcile.WorkspaceStatus) error
}

// StatusStats are the figures `kpf status --stats` shows.
type StatusStats struct {
	SpecLoad     string `json:"spec_load"`
	Observe      string `json:"observe"`
	ProbeHits    uint64 `json:"probe_cache_hits"`
	ProbeMisses  uint64 `json:"probe_cache_misses"`
	Forwards     int    `json:"forwards"`
	StateForward int    `json:"state_forwards"`
}

// NewStatus is the JSON view when json is set, else the human one (color:
// the state and health columns are coloured; home: the directory that
// status --all shortens to "~").
func NewStatus(w io.Writer, json, color bool, home string) Status {
	if json {
		return StatusJSON{W: w}
	}
	return StatusHuman{W: w, Color: color, Home: home}
}

// StatusHuman writes status as aligned tables.
type StatusHuman struct {
	W     io.Writer
	Color bool
	Home  string
}

// Forwards writes rows as an aligned table (nothing for no rows: the
// command says why there are none), then stats. With color, the state and
// health columns are coloured (every cell of a column carries escapes of
// the same width, so the alignment holds).
func (h StatusHuman) Forwards(rows []reconcile.StatusRow, stats *StatusStats) error {
	if len(rows) > 0 {
		if err := h.table(rows); err != nil {
			return err
		}
	}
	if stats != nil {
		if _, err := fmt.Fprintf(h.W, "\nspec load %s, observe %s, probe cache %d hits / %d misses\n",
			stats.SpecLoad, stats.Observe, stats.ProbeHits, stats.ProbeMisses); err != nil {
			return fmt.Errorf("writing status: %w", err)
		}
	}
	return nil
}

func (h StatusHuman) table(rows []reconcile.StatusRow) error {
	tw := tabwriter.NewWriter(h.W, 0, 0, 2, ' ', 0)
	cell := func(code, s string) string {
		if !h.Color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(tw, "NAME\tLOCAL\tTARGET\tCONTEXT\tNAMESPACE\t%s\t%s\tPOD\tCONNS\tUPTIME\tRESTARTS\tLAST ERROR\n",
		cell(ansiPlain, "STATE"), cell(ansiPlain, "HEALTH"))
	for _, r := range rows {
		e := termtext.Escape
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			e(r.Name), e(r.LocalText()), e(Dash(r.Target)), e(Dash(r.Context)), e(Dash(r.Namespace)),
			cell(stateColor(r.State), e(r.State)), cell(healthColor(r.Health), e(r.HealthText())),
			e(Dash(r.Pod)), conns(r), reconcile.FormatUptime(r.Uptime), r.Restarts, e(oneLine(Dash(r.LastError))))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// Workspaces writes one table of every workspace's rows, each labelled
// with its workspace (see workspaceLabels).
func (h StatusHuman) Workspaces(all []reconcile.WorkspaceStatus) error {
	labels := workspaceLabels(all, h.Home)
	tw := tabwriter.NewWriter(h.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tNAME\tLOCAL\tTARGET\tCONTEXT/NAMESPACE\tSTATE\tUPTIME\tRESTARTS\tLAST ERROR")
	e := termtext.Escape
	for _, ws := range all {
		for _, r := range ws.Rows {
			target := r.Target
			if r.Selector {
				target = "selector " + target
			}
			uptime := ""
			if r.State == reconcile.StatusRunning {
				uptime = reconcile.FormatUptime(r.Uptime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t%d\t%s\n", e(labels[ws.Path]), e(r.Name), e(r.Local), e(target),
				e(r.Context), e(r.Namespace), e(r.State), Dash(uptime), r.Restarts, e(Dash(r.LastError)))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// workspaceLabels labels each workspace (by path) for status --all: its
// name, and where two workspaces share a name (two copies of one spec),
// the name with its directory ("~/" for home).
func workspaceLabels(all []reconcile.WorkspaceStatus, home string) map[string]string {
	paths := map[string]map[string]bool{} // name → paths
	for _, ws := range all {
		if len(ws.Rows) == 0 {
			continue
		}
		if paths[ws.Name] == nil {
			paths[ws.Name] = map[string]bool{}
		}
		paths[ws.Name][ws.Path] = true
	}
	labels := make(map[string]string, len(all))
	for _, ws := range all {
		label := ws.Name
		if len(paths[ws.Name]) > 1 || label == "" {
			p := ws.Path
			if home != "" && strings.HasPrefix(p, home+string(filepath.Separator)) {
				p = "~" + p[len(home):]
			}
			label = strings.TrimSpace(label + " (" + p + ")")
		}
		labels[ws.Path] = label
	}
	return labels
}

func stateColor(state string) string {
	switch state {
	case reconcile.StatusRunning:
		return ansiGreen
	case reconcile.StatusExited, reconcile.StatusFailed:
		return ansiRed
	case reconcile.StatusOrphaned:
		return ansiYellow
	case reconcile.StatusStopped, reconcile.StatusDisabled:
		return ansiGrey
	}
	return ansiPlain
}

func healthColor(h string) string {
	switch reconcile.HealthState(h) {
	case reconcile.HealthHealthy:
		return ansiGreen
	case reconcile.HealthUnhealthy:
		return ansiRed
	case reconcile.HealthFailing:
		return ansiYellow
	case reconcile.HealthIdle:
		return ansiGrey
	}
	return ansiPlain
}

// conns is "active/total" connections, and how many were refused at
// max_connections or reset because their client stopped reading (stalled)
// if any; "-" where the runtime does not count.
func conns(r reconcile.StatusRow) string {
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

// Dash is s, or "-" for an empty cell.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a table row on one line and free of tabs.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}

// StatusJSON writes status in the versioned schema of reconcile/JSON.md.
type StatusJSON struct{ W io.Writer }

type jsonStatus struct {
	FormatVersion string       `json:"format_version"`
	Forwards      []StatusLine `json:"forwards"`
	Stats         *StatusStats `json:"stats,omitempty"`
}

type jsonAllStatus struct {
	FormatVersion string              `json:"format_version"`
	Workspaces    []jsonWorkspaceRows `json:"workspaces"`
}

type jsonWorkspaceRows struct {
	Workspace string       `json:"workspace"`
	Path      string       `json:"path"`
	Forwards  []StatusLine `json:"forwards"`
}

// StatusLine is one forward in every status JSON (status, status --all):
// the one definition of its fields.
type StatusLine struct {
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

// Forwards writes rows, and stats when not nil.
func (j StatusJSON) Forwards(rows []reconcile.StatusRow, stats *StatusStats) error {
	return j.encode(jsonStatus{FormatVersion: reconcile.JSONFormatVersion, Forwards: StatusLines(rows), Stats: stats})
}

// Workspaces writes the rows of every workspace: each workspace's
// forwards in the schema of Forwards, so that every status output has one
// versioned shape.
func (j StatusJSON) Workspaces(all []reconcile.WorkspaceStatus) error {
	out := jsonAllStatus{FormatVersion: reconcile.JSONFormatVersion, Workspaces: make([]jsonWorkspaceRows, 0, len(all))}
	for _, ws := range all {
		out.Workspaces = append(out.Workspaces, jsonWorkspaceRows{Workspace: ws.Name, Path: ws.Path, Forwards: StatusLines(ws.Rows)})
	}
	return j.encode(out)
}

func (j StatusJSON) encode(v any) error {
	enc := json.NewEncoder(j.W)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing status as json: %w", err)
	}
	return nil
}

// StatusLines are rows in the JSON schema.
func StatusLines(rows []reconcile.StatusRow) []StatusLine {
	out := make([]StatusLine, 0, len(rows))
	for _, r := range rows {
		out = append(out, StatusLine{
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
