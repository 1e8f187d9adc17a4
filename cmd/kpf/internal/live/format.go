package live

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// dash is how the view shows a value it does not know.
const dash = "-"

// formatUptime is a compact duration: 45s, 9m03s, 12m, 3h12m, 2d04h —
// seconds only for the first ten minutes, as kubectl's ages, so an idle
// table does not change every second.
func formatUptime(d time.Duration) string {
	if d <= 0 {
		return dash
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// formatRate is bytes/s in at most six cells: 0B/s, 850B/s, 1.2K/s, 34K/s, 5.6M/s.
func formatRate(bps float64) string {
	return formatBytes(bps) + "/s"
}

// formatBytes is a byte count in at most four cells: 0B, 850B, 1.2K, 34K, 5.6M.
func formatBytes(b float64) string {
	units := []string{"B", "K", "M", "G", "T"}
	u := 0
	for b >= 999.5 && u < len(units)-1 {
		b /= 1000
		u++
	}
	switch {
	case u == 0:
		return strconv.Itoa(int(b+0.5)) + units[u]
	case b < 9.95:
		return strconv.FormatFloat(b, 'f', 1, 64) + units[u]
	default:
		return strconv.Itoa(int(b+0.5)) + units[u]
	}
}

func formatCount(n int64) string {
	if n < 0 {
		return dash
	}
	return strconv.FormatInt(n, 10)
}

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

// oneLine makes text from a runtime safe for one cell: no escape sequences,
// no control characters, no line breaks.
func oneLine(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, ansi.Strip(s))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ago is a compact age: "just now", "12s ago", "3m ago", "2h ago", "4d ago".
func ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

// cellWidth is the width of s in cells; plain ASCII and sparklines, the
// common cases, are counted without walking grapheme clusters.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			if strings.IndexFunc(s[i:], notSparkOrASCII) < 0 {
				return utf8.RuneCountInString(s) // a sparkline: one cell a rune
			}
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

func notSparkOrASCII(r rune) bool {
	return (r < 0x20 || r >= 0x7f) && (r < sparks[0] || r > sparks[len(sparks)-1])
}

// truncate cuts s to w cells, ending in "…"; plain ASCII without walking
// grapheme clusters.
func truncate(s string, w int) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return ansi.Truncate(s, w, "…")
		}
	}
	if len(s) <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	return s[:w-1] + "…"
}
