package live

import (
	"maps"
	"slices"

	"charm.land/lipgloss/v2"
)

// styles are the view's colours, in the terminal's 16 ANSI colours so they
// follow its theme; the program downgrades them (or drops them for
// NO_COLOR) through the colour profile.
type styles struct {
	header, cell, selected lipgloss.Style
	bold, faint, err, warn lipgloss.Style
	accent, title          lipgloss.Style
	state, health          func(string) lipgloss.Style
}

func defaultStyles() styles {
	plain := lipgloss.NewStyle()
	green := plain.Foreground(lipgloss.Green)
	yellow := plain.Foreground(lipgloss.Yellow)
	red := plain.Foreground(lipgloss.Red)
	magenta := plain.Foreground(lipgloss.Magenta)
	faint := plain.Foreground(lipgloss.BrightBlack)
	states := map[string]lipgloss.Style{
		StateRunning: green, StateStarting: yellow, StateRestarting: yellow, StateWaiting: yellow,
		StateFailed: red, StateExited: red, StateOrphaned: magenta, StateStopped: faint, StateDisabled: faint,
	}
	healths := map[string]lipgloss.Style{
		"healthy": green, "failing": yellow, "unhealthy": red,
	}
	return styles{
		header:   plain.Bold(true),
		cell:     plain, // empty: see styleRow
		selected: plain.Reverse(true),
		bold:     plain.Bold(true),
		faint:    faint,
		err:      red,
		warn:     yellow,
		accent:   plain.Foreground(lipgloss.Cyan),
		title:    plain.Bold(true).Foreground(lipgloss.Cyan),
		state:    func(s string) lipgloss.Style { return lookup(states, s) },
		health:   func(s string) lipgloss.Style { return lookup(healths, s, faint) },
	}
}

func lookup(m map[string]lipgloss.Style, k string, fallback ...lipgloss.Style) lipgloss.Style {
	if s, ok := m[k]; ok {
		return s
	}
	if len(fallback) > 0 {
		return fallback[0]
	}
	return lipgloss.NewStyle()
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}
