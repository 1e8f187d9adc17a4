package live

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
)

// KeyMap is the view's key bindings; it is the help bubble's KeyMap.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding

	Filter  key.Binding // start typing a filter
	Back    key.Binding // close the log, or clear the filter
	Restart key.Binding
	Open    key.Binding
	Log     key.Binding
	Help    key.Binding
	Quit    key.Binding
}

// DefaultKeyMap is the key map of the issue: arrows and j/k, / r o l ? q.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close log / clear filter")),
		Restart:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
		Open:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open")),
		Log:      key.NewBinding(key.WithKeys("l", "enter"), key.WithHelp("l/⏎", "log")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line help under the table.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Filter, k.Restart, k.Open, k.Log, k.Help, k.Quit}
}

// FullHelp is the help `?` shows.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.Back},
		{k.Restart, k.Open, k.Log},
		{k.Help, k.Quit},
	}
}

// tableKeys hands the navigation bindings to the table bubble.
func (k KeyMap) tableKeys() table.KeyMap {
	return table.KeyMap{
		LineUp: k.Up, LineDown: k.Down, PageUp: k.PageUp, PageDown: k.PageDown,
		GotoTop: k.Top, GotoBottom: k.Bottom,
	}
}
