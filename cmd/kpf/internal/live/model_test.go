package live

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/kpf-dev/kpf/internal/testutil"
)

var (
	colour   = []colorprofile.Profile{colorprofile.ANSI256, colorprofile.ASCII}
	noColour = []colorprofile.Profile{colorprofile.ASCII}
)

func profileName(p colorprofile.Profile) string {
	if p == colorprofile.ASCII {
		return "nocolor"
	}
	return "color"
}

// TestFrames feeds snapshots, events and keys to the model and compares
// each resulting frame with testdata/<name>.<profile>.golden.
func TestFrames(t *testing.T) {
	type step func(t *testing.T, m *Model, fa *fakeActions)
	keys := func(ks ...string) step {
		return func(_ *testing.T, m *Model, _ *fakeActions) {
			for _, k := range ks {
				send(m, press(k), 4)
			}
		}
	}
	tests := []struct {
		name          string
		width, height int
		readOnly      bool
		noActions     bool
		fresh         bool // no snapshot yet
		logs          map[string][]string
		steps         []step
		profiles      []colorprofile.Profile
		wantCalls     []string
		check         func(t *testing.T, m *Model, fa *fakeActions)
	}{
		{name: "80x24", width: 80, height: 24, profiles: colour},
		{name: "wide", width: 180, height: 30, profiles: colour},
		{name: "medium", width: 120, height: 20, profiles: noColour},
		{name: "narrow", width: 40, height: 12, profiles: noColour},
		{name: "waiting", width: 80, height: 24, fresh: true, profiles: noColour},
		{name: "down-j", width: 80, height: 24, steps: []step{keys("j", "j")}, profiles: colour,
			check: func(t *testing.T, m *Model, _ *fakeActions) { wantSelected(t, m, "grafana") }},
		{name: "down-arrow-up-k", width: 80, height: 24, steps: []step{keys("down", "down", "down", "up", "k")}, profiles: noColour,
			check: func(t *testing.T, m *Model, _ *fakeActions) { wantSelected(t, m, "cart") }},
		{name: "end-home", width: 80, height: 24, steps: []step{keys("G")}, profiles: noColour,
			check: func(t *testing.T, m *Model, _ *fakeActions) {
				wantSelected(t, m, "search")
				send(m, press("g"), 1)
				wantSelected(t, m, "api")
			}},
		{name: "filter-typing", width: 80, height: 24, steps: []step{keys("/", "p", "a")}, profiles: colour,
			check: func(t *testing.T, m *Model, _ *fakeActions) {
				// While typing, q and r are text, not quit and restart.
				send(m, press("q"), 1)
				if m.quitting || m.filter.Value() != "paq" {
					t.Errorf("q while filtering: quitting %v, filter %q", m.quitting, m.filter.Value())
				}
			}},
		{name: "filter-applied", width: 80, height: 24, steps: []step{keys("/", "r", "e", "enter")}, profiles: noColour},
		{name: "filter-target", width: 80, height: 24, steps: []step{keys("/", "s", "t", "a", "t", "e", "f", "u", "l", "enter")}, profiles: noColour,
			check: func(t *testing.T, m *Model, _ *fakeActions) { wantSelected(t, m, "postgres") }},
		{name: "filter-none", width: 80, height: 24, steps: []step{keys("/", "z", "z", "z", "enter")}, profiles: noColour},
		{name: "filter-cleared", width: 80, height: 24, steps: []step{keys("/", "r", "e", "d", "enter", "esc")}, profiles: noColour,
			check: func(t *testing.T, m *Model, _ *fakeActions) { wantSelected(t, m, "redis") }},
		{name: "filter-escaped", width: 80, height: 24, steps: []step{keys("/", "r", "e", "esc")}, profiles: noColour},
		{name: "restart", width: 80, height: 24, steps: []step{keys("j", "r")}, profiles: colour, wantCalls: []string{"restart cart"}},
		{name: "restart-error", width: 80, height: 24, profiles: colour, wantCalls: []string{"restart api"},
			steps: []step{func(t *testing.T, m *Model, fa *fakeActions) {
				fa.err = errors.New("the agent is not running")
				send(m, press("r"), 2)
			}}},
		{name: "readonly", width: 80, height: 24, readOnly: true, steps: []step{keys("r")}, profiles: noColour, wantCalls: nil},
		{name: "no-actions", width: 80, height: 24, noActions: true, steps: []step{keys("r", "o", "l")}, profiles: noColour},
		{name: "open", width: 80, height: 24, steps: []step{keys("o")}, profiles: noColour, wantCalls: []string{"open api"}},
		{name: "log", width: 80, height: 24, profiles: colour, wantCalls: []string{"log postgres follow=true"},
			logs: map[string][]string{"postgres": {
				"19:02:11 connection 1 from 127.0.0.1:51234 to postgres-0\n19:02:12 connection 1 closed (in 2.1K, out 800B)\n",
				"19:03:40 pod postgres-0 not Ready; waiting\n19:03:41 pod postgres-0 Ready\n\x1b[31m19:04:00\x1b[0m connection 2 from 127.0.0.1:51240\tto postgres-0\n19:04:05 partial line",
			}},
			// open, read, read: the pane then waits for more.
			steps: []step{keys("j", "j", "j", "j", "j", "j", "j"), func(t *testing.T, m *Model, _ *fakeActions) { send(m, press("l"), 3) }}},
		{name: "log-enter-wide", width: 180, height: 30, profiles: noColour, wantCalls: []string{"log api follow=true"},
			logs:  map[string][]string{"api": {"GET /healthz 200\n"}},
			steps: []step{func(t *testing.T, m *Model, _ *fakeActions) { send(m, press("enter"), 2) }}},
		{name: "log-error", width: 80, height: 24, profiles: noColour, wantCalls: []string{"log api follow=true"},
			steps: []step{func(t *testing.T, m *Model, fa *fakeActions) {
				fa.logError = errors.New("forward \"api\" has no log yet")
				send(m, press("l"), 2)
			}}},
		{name: "log-closed-esc", width: 80, height: 24, profiles: noColour, wantCalls: []string{"log api follow=true"},
			logs: map[string][]string{"api": {"one\n"}},
			steps: []step{
				func(t *testing.T, m *Model, _ *fakeActions) { send(m, press("l"), 2) },
				keys("esc"),
			},
			check: func(t *testing.T, m *Model, fa *fakeActions) {
				if fa.closed != 1 {
					t.Errorf("log reader closed %d times, want 1", fa.closed)
				}
			}},
		{name: "log-toggled-l", width: 80, height: 24, profiles: noColour, wantCalls: []string{"log api follow=true"},
			logs: map[string][]string{"api": {"one\n"}},
			steps: []step{
				func(t *testing.T, m *Model, _ *fakeActions) { send(m, press("l"), 2) },
				keys("l"),
			}},
		{name: "help", width: 80, height: 24, steps: []step{keys("?")}, profiles: colour},
		{name: "help-readonly", width: 80, height: 24, readOnly: true, steps: []step{keys("?")}, profiles: noColour},
		{name: "help-closed", width: 80, height: 24, steps: []step{keys("?", "?")}, profiles: noColour},
		{name: "resize", width: 80, height: 24, profiles: noColour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			send(m, tea.WindowSizeMsg{Width: 100, Height: 16}, 1)
		}}},
		{name: "event", width: 80, height: 24, profiles: colour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			send(m, Event{At: t0, Name: "cart", Text: "restarted: pod cart-5d8b9-abcde deleted", Err: false}, 1)
		}}},
		{name: "event-error", width: 80, height: 24, profiles: noColour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			send(m, Event{At: t0, Name: "rabbitmq", Text: "start failed:\nservices \"rabbitmq\" not found", Err: true}, 1)
		}}},
		{name: "spec-error", width: 80, height: 24, profiles: colour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			s := workspace(t0.Add(2*time.Second), 21)
			s.SpecError = `kpf.hcl:12:3: error: Unsupported argument: An argument named "locl_port" is not expected here. Did you mean "local_port"?`
			send(m, s, 1)
		}}},
		// A diagnostic longer than two lines loses words from its middle,
		// none cut in two, and keeps its hint.
		{name: "spec-error-long", width: 60, height: 24, profiles: noColour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			s := workspace(t0.Add(2*time.Second), 21)
			s.SpecError = `kpf.hcl:10:20: error: Undeclared variable: variable "ctx" is not declared in this workspace, whose variables are declared in kpf.hcl and every *.kpf.hcl file beside it; did you mean "context"?`
			send(m, s, 1)
		}}},
		// A forward pushed off the port it asked for says so in LOCAL, as
		// kpf status does, and in full on the detail line (issue 20, point 2).
		{name: "port-moved", width: 80, height: 24, profiles: colour, steps: []step{
			func(t *testing.T, m *Model, _ *fakeActions) {
				s := workspace(t0.Add(2*time.Second), 21)
				for i := range s.Rows {
					if s.Rows[i].Name == "cart" {
						s.Rows[i].Local, s.Rows[i].WantedPort = "127.0.0.1:38082", 38081
					}
				}
				send(m, s, 1)
			},
			keys("j")},
			check: func(t *testing.T, m *Model, _ *fakeActions) {
				f := ansi.Strip(m.Render())
				for _, want := range []string{"127.0.0.1:38082 (wants 38081)", "wants port 38081, on 127.0.0.1:38082"} {
					if !strings.Contains(f, want) {
						t.Errorf("frame lacks %q:\n%s", want, f)
					}
				}
				if strings.Contains(f, "127.0.0.1:8080 (wants") {
					t.Errorf("a forward on its port shows a wanted port:\n%s", f)
				}
			}},
		{name: "port-moved-narrow", width: 40, height: 12, profiles: noColour, steps: []step{
			func(t *testing.T, m *Model, _ *fakeActions) {
				s := workspace(t0.Add(2*time.Second), 21)
				s.Rows[0].Local, s.Rows[0].WantedPort = "127.0.0.1:38082", 38081
				send(m, s, 1)
			}}},
		{name: "forward-gone", width: 80, height: 24, profiles: noColour, steps: []step{
			keys("j", "j", "j"),
			func(t *testing.T, m *Model, _ *fakeActions) {
				s := workspace(t0.Add(2*time.Second), 21)
				s.Rows = slices.DeleteFunc(s.Rows, func(r Row) bool { return r.Name == "cart" })
				send(m, s, 1)
			}},
			// The selection follows the forward, not the line.
			check: func(t *testing.T, m *Model, _ *fakeActions) { wantSelected(t, m, "legacy") }},
		{name: "empty-workspace", width: 80, height: 24, profiles: noColour, steps: []step{func(t *testing.T, m *Model, _ *fakeActions) {
			send(m, Snapshot{Workspace: "shop", At: t0.Add(2 * time.Second)}, 1)
		}}},
		{name: "quit", width: 80, height: 24, profiles: noColour, wantCalls: []string{"log api follow=true"},
			logs: map[string][]string{"api": {"one\n"}},
			steps: []step{
				func(t *testing.T, m *Model, _ *fakeActions) { send(m, press("l"), 2) },
			},
			check: func(t *testing.T, m *Model, fa *fakeActions) {
				_, cmd := m.Update(press("q"))
				if cmd == nil || cmd() != tea.Quit() {
					t.Errorf("q: want tea.Quit")
				}
				if m.Render() != "" {
					t.Errorf("a quit view renders %q, want nothing", m.Render())
				}
				if fa.closed != 1 {
					t.Errorf("q left the log reader open")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := &fakeActions{logs: tt.logs}
			opts := Options{Actions: fa, ReadOnly: tt.readOnly}
			if tt.noActions {
				opts.Actions = nil
			}
			var m *Model
			if tt.fresh {
				m = New(context.Background(), Options{Width: tt.width, Height: tt.height, Actions: fa})
			} else {
				m = fed(t, tt.width, tt.height, opts)
			}
			for _, s := range tt.steps {
				s(t, m, fa)
			}
			for _, p := range tt.profiles {
				got := frame(t, m, p)
				checkSize(t, got, m.width, m.height)
				testutil.Golden(t, tt.name+"."+profileName(p)+".golden", []byte(got))
			}
			if !tt.noActions && !slices.Equal(fa.calls, tt.wantCalls) {
				t.Errorf("actions called: %q, want %q", fa.calls, tt.wantCalls)
			}
			if tt.noActions && len(fa.calls) > 0 {
				t.Errorf("without actions, calls: %q", fa.calls)
			}
			if tt.check != nil {
				tt.check(t, m, fa)
			}
		})
	}
}

// checkSize: a frame fills the terminal, never more.
func checkSize(t *testing.T, frame string, width, height int) {
	t.Helper()
	lines := frameLines(frame)
	if len(lines) != height {
		t.Errorf("frame has %d lines, want %d", len(lines), height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("line %d is %d wide, terminal %d: %q", i+1, w, width, ansi.Strip(l))
		}
	}
}

func wantSelected(t *testing.T, m *Model, name string) {
	t.Helper()
	if got := m.selected(); got != name {
		t.Errorf("selected %q, want %q", got, name)
	}
}

// TestStatesAndHealthShown: every state and health of the contract appears
// in the wide frame with its own text.
func TestStatesAndHealthShown(t *testing.T) {
	m := fed(t, 180, 30, Options{})
	got := ansi.Strip(m.Render())
	for _, s := range stateOrder {
		if !strings.Contains(got, s) {
			t.Errorf("state %q not shown", s)
		}
	}
	for _, h := range []string{"healthy", "unhealthy", "failing", "unknown"} {
		if !strings.Contains(got, " "+h+" ") {
			t.Errorf("health %q not shown", h)
		}
	}
}

// TestColourFollowsProfile: the same frame carries colours for a colour
// terminal and none for NO_COLOR, where the selection stays visible.
func TestColourFollowsProfile(t *testing.T) {
	m := fed(t, 80, 24, Options{})
	coloured := frame(t, m, colorprofile.ANSI256)
	plain := frame(t, m, colorprofile.ASCII)
	if !strings.Contains(coloured, "\x1b[32m") { // green: running
		t.Error("colour frame has no colours")
	}
	if strings.Contains(plain, "\x1b[3") || strings.Contains(plain, "\x1b[9") || strings.Contains(plain, "38;") {
		t.Errorf("no-colour frame has colours: %q", plain)
	}
	if !strings.Contains(plain, "\x1b[7m") {
		t.Error("no-colour frame lost the reversed selection")
	}
	if ansi.Strip(coloured) != ansi.Strip(plain) {
		t.Error("colour changes the text")
	}
}

func TestTerminalProfile(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		noColor bool
		want    colorprofile.Profile
	}{
		{"not a terminal", []string{"TERM=xterm-256color"}, false, colorprofile.NoTTY},
		{"NO_COLOR=1", []string{"TERM=xterm-256color", "NO_COLOR=1"}, false, colorprofile.NoTTY},
		{"--no-color", []string{"TERM=xterm-256color"}, true, colorprofile.NoTTY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Terminal{Out: &strings.Builder{}, Env: tt.env, NoColor: tt.noColor}.Profile()
			if got != tt.want {
				t.Errorf("profile %v, want %v", got, tt.want)
			}
		})
	}
	// NO_COLOR set to any value counts (no-color.org), also "yes", which
	// colorprofile's own parsing ignores.
	for _, env := range [][]string{{"NO_COLOR=1"}, {"NO_COLOR=yes"}} {
		if !noColorEnv(env) {
			t.Errorf("%q: NO_COLOR not honoured", env)
		}
	}
	if noColorEnv([]string{"NO_COLOR="}) {
		t.Error("an empty NO_COLOR counts")
	}
}

// TestLogKeepsLastLines: the pane keeps LogLines lines.
func TestLogKeepsLastLines(t *testing.T) {
	var chunk strings.Builder
	for i := range 30 {
		chunk.WriteString(strings.Repeat("x", i) + "\n")
	}
	fa := &fakeActions{logs: map[string][]string{"api": {chunk.String()}}}
	m := fed(t, 80, 24, Options{Actions: fa, LogLines: 10})
	send(m, press("l"), 2)
	if len(m.log.lines) != 10 || m.log.lines[9] != strings.Repeat("x", 29) {
		t.Errorf("kept %d lines, last %q", len(m.log.lines), m.log.lines[len(m.log.lines)-1])
	}
}

// TestStaleLogMessagesDropped: data of a log that was closed (or replaced)
// never reaches the pane.
func TestStaleLogMessagesDropped(t *testing.T) {
	fa := &fakeActions{logs: map[string][]string{"api": {"first\n"}, "cart": {"second\n"}}}
	m := fed(t, 80, 24, Options{Actions: fa})
	_, openAPI := m.Update(press("l"))
	send(m, press("j"), 1)
	send(m, press("l"), 2) // cart's log replaces api's before api's opened
	run(m, openAPI, 3)
	if got := strings.Join(m.log.lines, "|"); got != "second" || m.log.name != "cart" {
		t.Errorf("pane shows %s: %q", m.log.name, got)
	}
	if fa.closed != 1 {
		t.Errorf("stale reader closed %d times, want 1", fa.closed)
	}
}

// TestIdleRefreshSkipsTableRender: a refresh that changes no cell does not
// re-render the table's rows (the view's cost with idle forwards), and what
// it shows stays right across key moves and real changes.
func TestIdleRefreshSkipsTableRender(t *testing.T) {
	m := New(context.Background(), Options{Width: 80, Height: 24})
	at := func(i int, mod func(*Snapshot)) Snapshot {
		s := manyRows(30, 0)
		s.At = t0.Add(time.Duration(i) * time.Second)
		if mod != nil {
			mod(&s)
		}
		return s
	}
	m.Update(at(0, nil))
	m.Update(at(1, nil)) // the traffic columns have their first rate now
	before, frame := m.setRows, m.Render()
	m.Update(at(2, nil))
	if m.setRows != before {
		t.Errorf("an unchanged refresh re-rendered the table's rows")
	}
	if got := m.Render(); got != frame {
		t.Errorf("an unchanged refresh changed the frame:\n%s\nwas\n%s", ansi.Strip(got), ansi.Strip(frame))
	}

	second := m.snap.Rows[1].Name
	m.Update(press("j"))
	m.Update(at(3, nil))
	wantSelected(t, m, second)
	if line := frameLines(ansi.Strip(m.Render()))[2]; !strings.HasPrefix(line, "› "+second) {
		t.Errorf("after j and a refresh the second row is %q, want it selected", line)
	}

	before = m.setRows
	m.Update(at(4, func(s *Snapshot) { s.Rows[0].Restarts = 42 }))
	if m.setRows == before {
		t.Error("a changed cell did not re-render the table's rows")
	}
	if line := frameLines(ansi.Strip(m.Render()))[1]; !strings.Contains(line, " 42 ") {
		t.Errorf("the first row after its restarts changed: %q", line)
	}
}
