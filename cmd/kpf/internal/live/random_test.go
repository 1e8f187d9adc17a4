package live

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// TestRandomMessages feeds long random sequences of snapshots (odd text
// included), events, keys, log output and sizes: no panic, and every frame
// fits the terminal.
func TestRandomMessages(t *testing.T) {
	words := []string{"", "api", "x", "日本語のサービス", "a\tb", "line\nbreak", "\x1b[31mred\x1b[0m", "\x00\x07", strings.Repeat("long-name-", 12), "[::1]:80", "é"}
	states := append(append([]string{}, stateOrder...), "", "weird")
	keys := []string{"j", "k", "up", "down", "pgup", "pgdown", "home", "end", "g", "G", "/", "a", "p", "enter", "esc", "backspace", "r", "o", "l", "?"}
	pick := func(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 7))
		fa := &fakeActions{logs: map[string][]string{}}
		for _, w := range words {
			fa.logs[w] = []string{pick(r, words) + "\n" + pick(r, words), strings.Repeat("z", 300) + "\n"}
		}
		m := New(context.Background(), Options{Actions: fa, Width: 1 + r.IntN(200), Height: 1 + r.IntN(60), LogLines: 5})
		at := t0
		for step := range 300 {
			switch n := r.IntN(10); {
			case n < 3:
				at = at.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
				var rows []Row
				for range r.IntN(30) {
					rows = append(rows, Row{
						Name: pick(r, words), Local: pick(r, words), Target: pick(r, words), Pod: pick(r, words),
						State: pick(r, states), Health: pick(r, words), LastError: pick(r, words),
						Active: r.Int64N(5) - 1, Total: r.Int64N(50) - 1, BytesIn: r.Int64N(1e9) - 1, BytesOut: r.Int64N(1e9) - 1,
						Restarts: r.IntN(100), Uptime: time.Duration(r.Int64N(int64(100 * time.Hour))),
					})
				}
				send(m, Snapshot{Workspace: pick(r, words), Contexts: []string{pick(r, words)}, Rows: rows, At: at,
					SpecLoaded: at.Add(-time.Minute), SpecError: pick(r, words)}, 1)
			case n < 4:
				send(m, tea.WindowSizeMsg{Width: 1 + r.IntN(200), Height: 1 + r.IntN(60)}, 1)
			case n < 5:
				send(m, Event{At: at, Name: pick(r, words), Text: pick(r, words), Err: r.IntN(2) == 0}, 1)
			default:
				send(m, press(pick(r, keys)), 2)
			}
			frame := m.Render()
			lines := strings.Split(frame, "\n")
			if len(lines) > m.height {
				t.Fatalf("seed %d step %d: %d lines on a %d-line terminal", seed, step, len(lines), m.height)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > m.width {
					t.Fatalf("seed %d step %d: line %d is %d wide on a %d-wide terminal: %q", seed, step, i, w, m.width, ansi.Strip(l))
				}
			}
		}
	}
}
