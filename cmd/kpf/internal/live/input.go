package live

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// lineInput is the filter's one-line text input: typing (and a terminal's
// bracketed paste), backspace and delete, the cursor left and right, to the
// start and the end, and the usual deletions up to either end. It draws as
// bubbles' textinput does with a steady cursor (prompt, text, the cursor
// as a reversed cell, padding to the width), without linking that package:
// its clipboard key (ctrl+v) links a clipboard package whose init looks up
// programs on every kpf command (issue 20, point 11). A terminal's own
// paste reaches the filter as a PasteMsg.
type lineInput struct {
	prompt, placeholder string
	value               []rune
	pos                 int // the cursor, an index into value
	width               int // cells for the text, after the prompt
	focused             bool
}

// The input's look: bubbles' textinput's defaults for a focused input.
var (
	inputPrompt      = lipgloss.NewStyle().Foreground(lipgloss.Color("7"))
	inputPlaceholder = lipgloss.NewStyle().Foreground(lipgloss.Color("240"))
	inputCursor      = lipgloss.NewStyle().Foreground(lipgloss.Color("7")).Inline(true).Reverse(true)
)

// Value is the text typed.
func (in *lineInput) Value() string { return string(in.value) }

// SetValue replaces the text and puts the cursor at its end.
func (in *lineInput) SetValue(s string) {
	in.value = sanitize([]rune(s))
	in.pos = len(in.value)
}

func (in *lineInput) Focus()         { in.focused = true }
func (in *lineInput) Blur()          { in.focused = false }
func (in *lineInput) SetWidth(w int) { in.width = w }

// Update applies a key press or a paste to a focused input.
func (in *lineInput) Update(msg tea.Msg) {
	if !in.focused {
		return
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		in.insert([]rune(msg.Content))
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left", "ctrl+b":
			in.pos = max(in.pos-1, 0)
		case "right", "ctrl+f":
			in.pos = min(in.pos+1, len(in.value))
		case "home", "ctrl+a":
			in.pos = 0
		case "end", "ctrl+e":
			in.pos = len(in.value)
		case "backspace", "ctrl+h":
			if in.pos > 0 {
				in.value = append(in.value[:in.pos-1], in.value[in.pos:]...)
				in.pos--
			}
		case "delete", "ctrl+d":
			if in.pos < len(in.value) {
				in.value = append(in.value[:in.pos], in.value[in.pos+1:]...)
			}
		case "ctrl+u":
			in.value, in.pos = in.value[in.pos:], 0
		case "ctrl+k":
			in.value = in.value[:in.pos]
		case "ctrl+w", "alt+backspace":
			// The word before the cursor, and the blanks after it.
			start := in.pos
			for start > 0 && unicode.IsSpace(in.value[start-1]) {
				start--
			}
			for start > 0 && !unicode.IsSpace(in.value[start-1]) {
				start--
			}
			in.value, in.pos = append(in.value[:start], in.value[in.pos:]...), start
		default:
			in.insert([]rune(msg.Text))
		}
	}
}

// insert puts rs at the cursor and moves the cursor past them.
func (in *lineInput) insert(rs []rune) {
	rs = sanitize(rs)
	if len(rs) == 0 {
		return
	}
	in.value = append(in.value[:in.pos], append(rs, in.value[in.pos:]...)...)
	in.pos += len(rs)
}

// sanitize makes rs one line: tabs and line breaks become spaces, other
// control characters go.
func sanitize(rs []rune) []rune {
	out := rs[:0:0]
	for _, r := range rs {
		switch {
		case r == '\t', r == '\n', r == '\r':
			out = append(out, ' ')
		case unicode.IsControl(r):
		default:
			out = append(out, r)
		}
	}
	return out
}

// View draws the prompt, the text with the cursor, and blanks up to width.
// Text wider than width scrolls to keep the cursor in view.
func (in *lineInput) View() string {
	var b strings.Builder
	b.WriteString(inputPrompt.Render(in.prompt))
	if len(in.value) == 0 && in.placeholder != "" {
		// The cursor on its first character, then as much of the rest
		// as fits, then blanks.
		ph := []rune(in.placeholder)
		b.WriteString(inputCursor.Render(string(ph[:1])))
		shown := min(lipgloss.Width(in.placeholder), in.width+1, len(ph))
		b.WriteString(inputPlaceholder.Render(string(ph[1:max(shown, 1)])))
		b.WriteString(inputPlaceholder.Render(strings.Repeat(" ", max(in.width-lipgloss.Width(in.placeholder)+1, 0))))
		return b.String()
	}
	// The window of value shown: all of it when it fits, else the
	// widest run that ends at the cursor (or just after it).
	start, end := 0, len(in.value)
	if lipgloss.Width(string(in.value)) > in.width {
		end = min(in.pos+1, len(in.value))
		start = end
		for start > 0 && lipgloss.Width(string(in.value[start-1:end])) <= in.width {
			start--
		}
	}
	shown := in.value[start:end]
	pos := in.pos - start
	b.WriteString(string(shown[:pos]))
	padding := max(in.width-lipgloss.Width(string(shown)), 0)
	if pos < len(shown) {
		b.WriteString(inputCursor.Render(string(shown[pos])))
		b.WriteString(string(shown[pos+1:]))
		padding++ // the cursor stands on a character, not after the text
	} else {
		b.WriteString(inputCursor.Render(" "))
	}
	b.WriteString(strings.Repeat(" ", padding))
	return b.String()
}
