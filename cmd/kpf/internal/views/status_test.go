package views

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/reconcile"
)

// statusRows are reconcile.StatusRows of reconcile's status scenario
// (reconcile/status_test.go: statusScenario), as data.
func statusRows() []reconcile.StatusRow {
	return []reconcile.StatusRow{
		{Name: "api", Local: "127.0.0.1:8081", Hostname: "", Port: 8081, WantedPort: 8080, Target: "service/api", Context: "kind-dev", Namespace: "shop", State: "running", Health: "healthy", CheckAge: 3000000000, Uptime: 10983000000000, Restarts: 2, LastError: "", Enabled: true, Runtime: "fake", ID: "9081", Pod: "api-5d9c7b6f4-x2x7q", Active: 1, Total: 40, BytesIn: 81234, BytesOut: 5120, Reconnects: 0, Refused: 3, Stalled: 2},
		{Name: "auth", Local: "127.0.0.1:4000", Hostname: "", Port: 4000, WantedPort: 4000, Target: "service/auth", Context: "kind-dev", Namespace: "shop", State: "failed", Health: "-", CheckAge: -1, Uptime: 0, Restarts: 0, LastError: "context \"prod\" does not exist", Enabled: true, Runtime: "", ID: "", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "cache", Local: "127.0.0.1:6379", Hostname: "", Port: 6379, WantedPort: 6379, Target: "service/cache", Context: "kind-dev", Namespace: "shop", State: "running", Health: "idle", CheckAge: 250000000000, Uptime: 90000000000, Restarts: 1, LastError: "", Enabled: true, Runtime: "fake", ID: "7379", Pod: "", Active: 0, Total: 0, BytesIn: 0, BytesOut: 0, Reconnects: 0, Refused: 0, Stalled: 0},
		{Name: "db", Local: "127.0.0.1:5432", Hostname: "", Port: 5432, WantedPort: 5432, Target: "app=postgres", Context: "kind-dev", Namespace: "shop", State: "running", Health: "unhealthy", CheckAge: -1, Uptime: 10983000000000, Restarts: 0, LastError: "dial tcp: connection refused", Enabled: true, Runtime: "fake", ID: "6432", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "grafana", Local: "127.0.0.1:?", Hostname: "", Port: 0, WantedPort: 0, Target: "service/grafana", Context: "kind-dev", Namespace: "shop", State: "stopped", Health: "-", CheckAge: -1, Uptime: 0, Restarts: 0, LastError: "", Enabled: true, Runtime: "", ID: "", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "legacy", Local: "127.0.0.1:7000", Hostname: "", Port: 7000, WantedPort: 7000, Target: "service/legacy", Context: "kind-dev", Namespace: "shop", State: "disabled", Health: "-", CheckAge: -1, Uptime: 0, Restarts: 0, LastError: "", Enabled: false, Runtime: "", ID: "", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "metrics", Local: "127.0.0.1:9090", Hostname: "", Port: 9090, WantedPort: 9090, Target: "service/metrics", Context: "kind-dev", Namespace: "shop", State: "exited", Health: "-", CheckAge: -1, Uptime: 0, Restarts: 5, LastError: "error: lost connection to pod", Enabled: true, Runtime: "", ID: "", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "old", Local: "127.0.0.1:9999", Hostname: "", Port: 9999, WantedPort: 9999, Target: "service/old", Context: "kind-dev", Namespace: "shop", State: "orphaned", Health: "failing", CheckAge: -1, Uptime: 10983000000000, Restarts: 0, LastError: "GET /healthz: 503 Service Unavailable", Enabled: false, Runtime: "fake", ID: "10999", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
		{Name: "web", Local: "127.0.0.1:3000", Hostname: "", Port: 3000, WantedPort: 3000, Target: "service/web", Context: "kind-dev", Namespace: "shop", State: "running", Health: "none", CheckAge: -1, Uptime: 176400000000000, Restarts: 0, LastError: "", Enabled: true, Runtime: "fake", ID: "4000", Pod: "", Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1},
	}
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestStatusGolden(t *testing.T) {
	t.Parallel()
	rows := statusRows()
	var table, js bytes.Buffer
	if err := NewStatus(&table, false, false, "").Forwards(rows, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "status.golden", table.Bytes())
	if err := NewStatus(&js, true, false, "").Forwards(rows, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "status.json.golden", js.Bytes())

	var colored bytes.Buffer
	if err := NewStatus(&colored, false, true, "").Forwards(rows, nil); err != nil {
		t.Fatal(err)
	}
	// Escapes of equal width in every cell of a column keep the alignment:
	// stripping them gives the plain table back, up to the padding that
	// followed the escapes.
	stripped := ansiEscape.ReplaceAll(colored.Bytes(), nil)
	if got, want := bytes.Count(stripped, []byte("\n")), bytes.Count(table.Bytes(), []byte("\n")); got != want {
		t.Errorf("coloured table has %d lines, want %d", got, want)
	}
	lines := bytes.Split(colored.Bytes(), []byte("\n"))
	col := bytes.Index(lines[0], []byte("UPTIME"))
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("UPTIME column misaligned in coloured table at %d: %q", col, l)
		}
	}
}

func TestStatusStats(t *testing.T) {
	t.Parallel()
	stats := &StatusStats{SpecLoad: "1ms", Observe: "2ms", ProbeHits: 3, ProbeMisses: 4, Forwards: 5, StateForward: 6}
	for _, tt := range []struct {
		name string
		json bool
		rows []reconcile.StatusRow
		want []string
	}{
		{"human", false, statusRows()[:1], []string{"NAME", "\nspec load 1ms, observe 2ms, probe cache 3 hits / 4 misses\n"}},
		{"human, no rows", false, nil, []string{"\nspec load 1ms"}},
		{"json", true, nil, []string{`"forwards": []`, `"stats": {`, `"probe_cache_misses": 4`, `"state_forwards": 6`}},
	} {
		var b bytes.Buffer
		if err := NewStatus(&b, tt.json, false, "").Forwards(tt.rows, stats); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tt.name, w, b.String())
			}
		}
		if tt.rows == nil && strings.Contains(b.String(), "NAME") {
			t.Errorf("%s: a table header without rows:\n%s", tt.name, b.String())
		}
	}
}

func TestStatusWorkspaces(t *testing.T) {
	t.Parallel()
	rows := statusRows()
	sel := rows[3] // db: a selector
	sel.Selector = true
	all := []reconcile.WorkspaceStatus{
		{Name: "shop", Path: "/home/u/shop", Rows: []reconcile.StatusRow{rows[0], sel}},
		{Name: "shop", Path: "/home/u/copy/shop", Rows: rows[1:2]},
		{Name: "", Path: "/srv/x", Rows: rows[5:6]},
		{Name: "empty", Path: "/home/u/empty"},
	}
	var human, js bytes.Buffer
	if err := NewStatus(&human, false, true, "/home/u").Workspaces(all); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"WORKSPACE ", "shop (~/shop)  ", "shop (~/copy/shop)  ", "(/srv/x)  ", "selector app=postgres",
		"kind-dev/shop", "3h3m", // uptime of a running forward
	} {
		if !strings.Contains(human.String(), w) {
			t.Errorf("status --all: no %q in\n%s", w, human.String())
		}
	}
	if strings.Contains(human.String(), "\x1b") {
		t.Errorf("status --all is not coloured:\n%q", human.String())
	}
	if err := NewStatus(&js, true, false, "").Workspaces(all); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"workspace": "shop"`, `"path": "/home/u/copy/shop"`, `"target": "app=postgres"`, `"workspace": "empty"`} {
		if !strings.Contains(js.String(), w) {
			t.Errorf("status --all --json: no %q in\n%s", w, js.String())
		}
	}
}

func TestStatusTableEscapes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	rows := []reconcile.StatusRow{{Name: hostile, Local: "127.0.0.1:1", Target: hostile, Context: hostile, Namespace: "ns",
		State: reconcile.StatusExited, Health: "-", LastError: "error: " + hostile}}
	all := []reconcile.WorkspaceStatus{{Name: hostile, Path: "/w", Rows: rows}}
	for _, tt := range []struct {
		name string
		show func(Status) error
	}{
		{"status table", func(s Status) error { return s.Forwards(rows, nil) }},
		{"status --all table", func(s Status) error { return s.Workspaces(all) }},
	} {
		for _, color := range []bool{false, true} {
			b.Reset()
			if err := tt.show(NewStatus(&b, false, color, "")); err != nil {
				t.Fatal(err)
			}
			out := strings.NewReplacer(ansiReset, "", ansiRed, "", ansiPlain, "").Replace(b.String()) // kpf's own colours
			for _, bad := range []string{"\x1b]", "\x1b[2J", "\x07", "\u009b", "\u202e"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s lets %q through:\n%q", tt.name, bad, out)
				}
			}
			if !strings.Contains(out, `x\x1b]0;pwned\a\x1b[2J\u009b1m\u202ey`) {
				t.Errorf("%s does not show the escaped text:\n%q", tt.name, out)
			}
		}
	}
}

func TestStatusWriteErrors(t *testing.T) {
	t.Parallel()
	rows := statusRows()[:1]
	all := []reconcile.WorkspaceStatus{{Name: "w", Path: "/w", Rows: rows}}
	for _, json := range []bool{false, true} {
		v := NewStatus(failWriter{}, json, false, "")
		if err := v.Forwards(rows, nil); err == nil {
			t.Errorf("json=%v: Forwards: no error from a failing writer", json)
		}
		if err := v.Workspaces(all); err == nil {
			t.Errorf("json=%v: Workspaces: no error from a failing writer", json)
		}
	}
}
