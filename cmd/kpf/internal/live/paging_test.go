package live

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// selectedLine is the name on the frame's line with the cursor mark.
func selectedLine(m *Model) string {
	for _, l := range strings.Split(ansi.Strip(m.Render()), "\n") {
		if rest, ok := strings.CutPrefix(l, "›"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// TestPaging: page and jump keys on a list longer than the screen, and new
// snapshots, always leave the selected forward on screen and marked.
func TestPaging(t *testing.T) {
	m := New(context.Background(), Options{Width: 80, Height: 24})
	snap := manyRows(200, 1)
	send(m, snap, 1)
	name := func(i int) string { return snap.Rows[i].Name }
	page := m.table.Height()

	steps := []struct {
		key  string
		want int
	}{
		{"pgdown", page},
		{"pgdown", 2 * page},
		{"pgup", page},
		{"end", 199},
		{"up", 198},
		{"home", 0},
		{"G", 199},
		{"g", 0},
		{"pgup", 0},
	}
	for _, s := range steps {
		send(m, press(s.key), 1)
		if got := m.selected(); got != name(s.want) {
			t.Fatalf("after %s: selected %s, want %s", s.key, got, name(s.want))
		}
		if got := selectedLine(m); got != name(s.want) {
			t.Fatalf("after %s: marked on screen %q, want %s", s.key, got, name(s.want))
		}
	}

	// At the top, rows added above push the selection below the screen's
	// first page: it stays marked on screen.
	top := manyRows(200, 2)
	first := top.Rows[0].Name
	for i := range 40 {
		top.Rows = append([]Row{{Name: fmt.Sprintf("000-%02d", 39-i), State: StateRunning, Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown}}, top.Rows...)
	}
	send(m, top, 1)
	if m.selected() != first || selectedLine(m) != first {
		t.Fatalf("rows added above the top: selected %s (marked %q), want %s", m.selected(), selectedLine(m), first)
	}
	send(m, manyRows(200, 2), 1)

	// Deep in the list, new snapshots keep the selection where it is...
	for range 3 {
		send(m, press("pgdown"), 1)
	}
	want := m.selected()
	before := selectedLine(m)
	send(m, manyRows(200, 2), 1)
	if m.selected() != want || selectedLine(m) != before {
		t.Fatalf("a snapshot moved the selection: %s (marked %s), want %s", m.selected(), selectedLine(m), want)
	}
	// ...and follow the forward when rows are added above it.
	more := manyRows(200, 3)
	for i := range 30 {
		more.Rows = append(more.Rows, Row{Name: fmt.Sprintf("aaa-%02d", i), State: StateRunning, Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown})
	}
	slices.SortFunc(more.Rows, func(a, b Row) int { return strings.Compare(a.Name, b.Name) })
	send(m, more, 1)
	if m.selected() != want || selectedLine(m) != want {
		t.Fatalf("rows added above: selected %s (marked %q), want %s", m.selected(), selectedLine(m), want)
	}
}

// TestCtrlCQuits: Ctrl-C quits from anywhere, also while typing a filter
// (where q is text).
func TestCtrlCQuits(t *testing.T) {
	for _, before := range [][]string{nil, {"/", "a"}, {"?"}} {
		m := fed(t, 80, 24, Options{Actions: &fakeActions{}})
		for _, k := range before {
			send(m, press(k), 0)
		}
		_, cmd := m.Update(press("ctrl+c"))
		if cmd == nil || cmd() != tea.Quit() || m.Render() != "" {
			t.Errorf("ctrl+c after %q did not quit", before)
		}
	}
}
