package live

import (
	"strings"
	"testing"

	// The filter's input once was bubbles' textinput: in tests only, it is
	// the reference lineInput is held to (input.go says why not in the
	// binary).
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// TestLineInputMatchesTextinput types the same keys into lineInput and into
// bubbles' textinput set up as the filter was, and wants the same text and
// the same drawing after every key.
func TestLineInputMatchesTextinput(t *testing.T) {
	cases := []struct {
		name  string
		width int
		keys  []tea.Msg
	}{
		{"placeholder", 78, nil},
		{"placeholder cut", 5, nil},
		{"typing", 78, typed("pay")},
		{"backspace", 78, append(typed("pay"), named(tea.KeyBackspace), named(tea.KeyBackspace), named(tea.KeyBackspace), named(tea.KeyBackspace))},
		{"cursor moves", 78, append(typed("pay"), named(tea.KeyLeft), named(tea.KeyLeft), named(tea.KeyLeft), named(tea.KeyLeft), named(tea.KeyRight), press("x"))},
		{"backspace mid-text", 78, append(typed("abc"), named(tea.KeyLeft), named(tea.KeyBackspace))},
		{"delete", 78, append(typed("abc"), named(tea.KeyHome), named(tea.KeyDelete), named(tea.KeyEnd), named(tea.KeyDelete))},
		{"ctrl keys", 78, append(typed("one two"), ctrl('a'), ctrl('f'), ctrl('k'), ctrl('e'), ctrl('b'), ctrl('u'))},
		{"ctrl+w", 78, append(typed("one two  "), ctrl('w'))},
		{"paste", 78, []tea.Msg{tea.PasteMsg{Content: "a\tb\nc\x07d"}}},
		{"wide", 78, typed("日本é")},
		{"overflow at the end", 4, typed("abcdefg")},
		{"arrows do not type", 78, append(typed("a"), named(tea.KeyUp), named(tea.KeyDown), named(tea.KeyTab))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := textinput.New()
			ref.Prompt, ref.Placeholder = "/", "name or target"
			st := ref.Styles()
			st.Cursor.Blink = false
			ref.SetStyles(st)
			ref.SetWidth(c.width)
			ref.Focus()
			in := lineInput{prompt: "/", placeholder: "name or target"}
			in.SetWidth(c.width)
			in.Focus()
			check := func(after string) {
				t.Helper()
				if in.Value() != ref.Value() || in.View() != ref.View() {
					t.Errorf("after %s:\n got %q %q\nwant %q %q", after, in.Value(), in.View(), ref.Value(), ref.View())
				}
			}
			check("focus")
			for i, k := range c.keys {
				ref, _ = ref.Update(k)
				in.Update(k)
				check(strings.Repeat("+", i+1))
			}
		})
	}
}

func typed(s string) []tea.Msg {
	var msgs []tea.Msg
	for _, r := range s {
		msgs = append(msgs, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return msgs
}

func named(code rune) tea.Msg { return tea.KeyPressMsg{Code: code} }

func ctrl(r rune) tea.Msg { return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl} }
