package live

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Options configure a Model.
type Options struct {
	// Actions carries out restart, open and log; nil disables those keys.
	Actions Actions
	// ReadOnly disables restart (`kpf status --watch` shows a workspace
	// applied elsewhere); open and log stay.
	ReadOnly bool
	// Width and Height are the size until the first tea.WindowSizeMsg;
	// 0 means 80×24.
	Width, Height int
	// Keys replaces DefaultKeyMap.
	Keys *KeyMap
	// LogLines is how many lines of a forward's log the pane keeps (500).
	LogLines int
}

// Model is the bubbletea model of the live view. Create it with New; it is
// used through a pointer and must not be copied.
type Model struct {
	ctx    context.Context
	opts   Options
	keys   KeyMap
	width  int
	height int
	st     styles

	snap    Snapshot
	traffic map[string]*traffic
	gen     int               // snapshots taken in; traffic of older ones is dropped
	counts  map[string]int    // forwards per state
	cellBuf [][numCols]string // backing store of rows
	cells   [][numCols]string // plain text per row of snap.Rows
	visible []int             // indices into snap.Rows that pass the filter
	widths  [numCols]int
	rows    []table.Row // styled cells of the visible rows
	// shown is what the table last rendered rows from (nil: unknown, as
	// after a key moved the selection): a refresh that changes no cell
	// skips the table's re-render.
	shown   [][numCols]string
	setRows int    // the table's row re-renders so far
	cursor  int    // index into visible the rows were styled for
	name    string // the selected forward, kept across snapshots

	table     table.Model
	help      help.Model
	filter    lineInput
	filtering bool

	log logPane
	// specLines is the broken spec's diagnostic, wrapped at words to the
	// width (at most maxSpecLines), shown above the footer.
	specLines []string
	notice    string
	noErr     bool // notice is not an error

	styledState  map[string]string
	styledHealth map[string]string
	styledErr    map[string]string
	quitting     bool
}

// New returns the view. ctx bounds every Actions call and the log reader;
// cancel it (or quit) to stop them.
func New(ctx context.Context, opts Options) *Model {
	m := &Model{
		ctx:     ctx,
		opts:    opts,
		keys:    DefaultKeyMap(),
		width:   opts.Width,
		height:  opts.Height,
		st:      defaultStyles(),
		traffic: map[string]*traffic{},
		counts:  map[string]int{},
		cursor:  -1,

		styledState:  map[string]string{},
		styledHealth: map[string]string{},
		styledErr:    map[string]string{},
	}
	if opts.Keys != nil {
		m.keys = *opts.Keys
	}
	if m.width <= 0 {
		m.width = 80
	}
	if m.height <= 0 {
		m.height = 24
	}
	if m.opts.LogLines <= 0 {
		m.opts.LogLines = 500
	}
	if opts.Actions == nil {
		m.keys.Restart.SetEnabled(false)
		m.keys.Open.SetEnabled(false)
		m.keys.Log.SetEnabled(false)
	}
	if opts.ReadOnly {
		m.keys.Restart.SetEnabled(false)
	}
	m.help = help.New()
	m.help.Styles = help.DefaultStyles(true)
	// A steady cursor: a blinking one would redraw the frame twice a second.
	m.filter = lineInput{prompt: "/", placeholder: "name or target"}
	m.table = table.New(
		table.WithKeyMap(m.keys.tableKeys()),
		table.WithStyles(table.Styles{Header: m.st.header, Cell: m.st.cell, Selected: m.st.selected}),
		table.WithFocused(true),
	)
	m.log = newLogPane()
	m.resize()
	return m
}

// Init asks the terminal for its background so the help text suits it.
func (m *Model) Init() tea.Cmd { return tea.RequestBackgroundColor }

// Update handles snapshots, events, keys and window sizes.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case Snapshot:
		m.setSnapshot(msg)
	case *Snapshot:
		m.setSnapshot(*msg)
	case Event:
		m.setEvent(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 1), max(msg.Height, 1)
		m.resize()
	case tea.BackgroundColorMsg:
		m.help.Styles = help.DefaultStyles(msg.IsDark())
	case actionDoneMsg:
		m.notice, m.noErr = msg.text()
	case logOpenedMsg:
		return m, m.log.opened(msg)
	case logDataMsg:
		return m, m.log.data(msg, m.opts.LogLines)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		if m.filtering {
			return m, m.typeFilter(msg)
		}
	}
	return m, nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		return m.quit()
	}
	if m.filtering {
		switch msg.String() {
		case "enter":
			m.filtering = false
			m.filter.Blur()
			m.resize()
			return nil
		case "esc":
			m.filtering = false
			m.filter.Blur()
			m.filter.SetValue("")
			m.refilter()
			return nil
		}
		return m.typeFilter(msg)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom):
		m.move(msg)
	case key.Matches(msg, k.Filter):
		m.filtering = true
		m.resize()
		m.filter.Focus()
	case key.Matches(msg, k.Back):
		switch {
		case m.log.isOpen():
			m.log.close()
			m.resize()
		case m.filter.Value() != "":
			m.filter.SetValue("")
			m.refilter()
		}
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
	case key.Matches(msg, k.Restart):
		return m.action("restart", m.opts.Actions.Restart)
	case m.opts.ReadOnly && slices.Contains(k.Restart.Keys(), msg.String()):
		// Disabled (not offered in the help), but pressed: say why.
		m.notice, m.noErr = "read-only view: 'kpf apply --watch' restarts forwards", false
	case key.Matches(msg, k.Open):
		return m.action("open", m.opts.Actions.Open)
	case key.Matches(msg, k.Log):
		name := m.selected()
		if name == "" {
			return nil
		}
		if m.log.isOpen() && m.log.name == name {
			m.log.close()
			m.resize()
			return nil
		}
		cmd := m.log.open(m.ctx, m.opts.Actions, name)
		m.resize()
		return cmd
	}
	return nil
}

func (m *Model) typeFilter(msg tea.Msg) tea.Cmd {
	before := m.filter.Value()
	m.filter.Update(msg)
	if m.filter.Value() != before {
		m.refilter()
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.log.close()
	m.quitting = true
	return tea.Quit
}

// action runs do for the selected forward in a command.
func (m *Model) action(verb string, do func(context.Context, string) error) tea.Cmd {
	name := m.selected()
	if name == "" {
		return nil
	}
	m.notice, m.noErr = verb+" "+name+"…", true
	ctx := m.ctx
	return func() tea.Msg {
		return actionDoneMsg{verb: verb, name: name, err: do(ctx, name)}
	}
}

// actionDoneMsg reports the end of an Actions call.
type actionDoneMsg struct {
	verb, name string
	err        error
}

func (a actionDoneMsg) text() (string, bool) {
	if a.err != nil {
		return fmt.Sprintf("%s %s: %v", a.verb, a.name, a.err), false
	}
	done := map[string]string{"restart": "restart requested", "open": "opened"}[a.verb]
	return fmt.Sprintf("%s: %s", a.name, done), true
}

func (m *Model) setEvent(e Event) {
	text := oneLine(e.Text)
	if e.Name != "" {
		text = e.Name + ": " + text
	}
	if !e.At.IsZero() {
		text = e.At.Format("15:04:05") + " " + text
	}
	m.notice, m.noErr = text, !e.Err
}

// selected is the name of the forward under the cursor, "" if none.
func (m *Model) selected() string {
	c := m.table.Cursor()
	if c < 0 || c >= len(m.visible) {
		return ""
	}
	return m.snap.Rows[m.visible[c]].Name
}

// setSnapshot takes the caller's new view of the workspace.
func (m *Model) setSnapshot(s Snapshot) {
	if sel := m.selected(); sel != "" {
		m.name = sel
	}
	m.snap = s
	m.visible = m.visible[:0] // indices into the old rows
	if cap(m.cells) < len(s.Rows) {
		m.cells = make([][numCols]string, len(s.Rows))
	}
	m.cells = m.cells[:len(s.Rows)]
	m.gen++
	var rates [window]float64
	for i := range s.Rows {
		r := &s.Rows[i]
		c := &m.cells[i]
		c[colName] = oneLine(r.Name)
		c[colLocal] = orDash(oneLine(r.Local))
		if r.WantedPort > 0 {
			c[colLocal] += " (wants " + strconv.Itoa(r.WantedPort) + ")"
		}
		c[colTarget] = orDash(oneLine(r.Target))
		c[colPod] = orDash(oneLine(r.Pod))
		c[colState] = orDash(oneLine(r.State))
		c[colHealth] = orDash(oneLine(r.Health))
		c[colConn] = formatCount(r.Active)
		c[colRestarts] = strconv.Itoa(r.Restarts)
		c[colUptime] = formatUptime(r.Uptime)
		c[colError] = oneLine(r.LastError)
		c[colTraffic] = dash
		if r.BytesIn < 0 || r.BytesOut < 0 {
			delete(m.traffic, r.Name)
			continue
		}
		t := m.traffic[r.Name]
		if t == nil {
			t = newTraffic()
			m.traffic[r.Name] = t
		}
		t.gen = m.gen
		t.add(r.BytesIn+r.BytesOut, s.At)
		t.rates(s.At, &rates)
		c[colTraffic] = sparkline(&rates, sparkWidth) + " " + formatRate(recent(&rates, 5))
	}
	for name, t := range m.traffic {
		if t.gen != m.gen { // the forward is gone
			delete(m.traffic, name)
		}
	}
	clear(m.counts)
	for i := range m.cells {
		m.counts[m.cells[i][colState]]++
	}
	m.refilter()
}

// refilter recomputes the visible rows and lays the table out again.
func (m *Model) refilter() {
	if sel := m.selected(); sel != "" {
		m.name = sel
	}
	m.visible = m.visible[:0]
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	for i := range m.snap.Rows {
		if q == "" || strings.Contains(strings.ToLower(m.cells[i][colName]), q) ||
			strings.Contains(strings.ToLower(m.cells[i][colTarget]), q) {
			m.visible = append(m.visible, i)
		}
	}
	m.resize()
}

// resize lays out the columns and the heights for the current size, rows
// and panes, and rebuilds the table's rows.
func (m *Model) resize() {
	var natural [numCols]int
	natural[colCursor] = 1
	for _, i := range m.visible {
		for c := colName; c < numCols; c++ {
			natural[c] = max(natural[c], cellWidth(m.cells[i][c]))
		}
	}
	m.widths = layout(m.width, &natural)
	cols := make([]table.Column, numCols)
	for c := range cols {
		if m.widths[c] > 0 {
			cols[c] = table.Column{Title: columns[c].title, Width: m.widths[c] + colGap}
		}
	}
	m.help.SetWidth(m.width)
	m.filter.SetWidth(max(m.width-2, 1))

	// Heights: table, log pane, then one line each for the selected
	// forward's details, the notice or filter, the footer, and the help.
	helpHeight := 1
	if m.help.ShowAll {
		helpHeight = lipgloss.Height(m.help.View(m.keys))
	}
	m.specLines = wrapDiagnostic(oneLine(m.snap.SpecError), m.width, maxSpecLines)
	fixed := 3 + helpHeight + len(m.specLines)
	rest := max(m.height-fixed, 2)
	logH := 0
	if m.log.isOpen() {
		logH = max(min(rest/2, rest-2), 0)
	}
	m.log.resize(m.width, logH)

	if cap(m.cellBuf) < len(m.visible) {
		m.cellBuf = make([][numCols]string, len(m.visible), len(m.visible)+len(m.visible)/4)
	}
	m.cellBuf = m.cellBuf[:len(m.visible)]
	m.rows = m.rows[:0]
	for vi := range m.visible {
		m.rows = append(m.rows, m.cellBuf[vi][:])
	}
	cursor := 0
	for vi, i := range m.visible {
		if m.snap.Rows[i].Name == m.name {
			cursor = vi
		}
	}
	m.cursor = cursor
	for vi := range m.visible {
		m.styleRow(vi, vi == cursor)
	}
	// The table re-renders its window (twice the visible rows) on each
	// of these calls: make only those that change something.
	rendered := false
	if !slices.Equal(cols, m.table.Columns()) {
		m.table.SetColumns(cols)
		rendered = true
	}
	if m.table.Width() != m.width {
		m.table.SetWidth(m.width)
		rendered = true
	}
	if h := rest - logH; m.table.Height() != h-1 {
		m.table.SetHeight(h)
		rendered = true
	}
	if rendered || m.shown == nil || !slices.Equal(m.shown, m.cellBuf) {
		m.table.SetRows(m.rows)
		m.setRows++
		m.shown = append(m.shown[:0], m.cellBuf...)
	}
	if m.table.Cursor() != cursor {
		// SetCursor would leave the table's scroll offset behind; moving
		// there scrolls as a key press would.
		m.table.GotoTop()
		m.table.MoveDown(cursor)
	}
}

// move hands a navigation key to the table. The selected row is styled
// plain (see styleRow) before the table renders its window, where the move
// lands is predictable; if the table lands elsewhere, the rows are styled
// again and the window re-rendered.
func (m *Model) move(msg tea.KeyPressMsg) {
	from, last := m.table.Cursor(), len(m.rows)-1
	if last < 0 {
		return
	}
	to := from
	switch k := m.keys; {
	case key.Matches(msg, k.Up):
		to = from - 1
	case key.Matches(msg, k.Down):
		to = from + 1
	case key.Matches(msg, k.PageUp):
		to = from - m.table.Height()
	case key.Matches(msg, k.PageDown):
		to = from + m.table.Height()
	case key.Matches(msg, k.Top):
		to = 0
	case key.Matches(msg, k.Bottom):
		to = last
	}
	to = min(max(to, 0), last)
	m.shown = nil // the table renders the rows restyled here
	m.restyle(to)
	m.table, _ = m.table.Update(msg)
	if got := m.table.Cursor(); got != to {
		m.restyle(got)
		m.table.UpdateViewport()
	}
	m.name = m.selected()
}

// restyle moves the plain styling of the selection to visible row to. The
// table holds the same row slices, so this changes what it renders next.
func (m *Model) restyle(to int) {
	if to == m.cursor || to < 0 || to >= len(m.rows) {
		return
	}
	if m.cursor >= 0 && m.cursor < len(m.rows) {
		m.styleRow(m.cursor, false)
	}
	m.styleRow(to, true)
	m.cursor = to
}

// styleRow fills the table cells of visible row vi, cut to their columns'
// widths here (the table's own cutting then never happens, and its cell
// style is empty, which lipgloss renders at no cost). The selected row is
// plain: the table reverses it as a whole, and inner colours would end the
// reversal early.
func (m *Model) styleRow(vi int, selected bool) {
	src := &m.cells[m.visible[vi]]
	row := m.rows[vi]
	for c := range numCols {
		w := m.widths[c]
		switch {
		case w == 0:
			row[c] = ""
		case c == colTraffic && cellWidth(src[c]) > w:
			row[c], _, _ = strings.Cut(src[c], " ") // the sparkline without its rate
		case cellWidth(src[c]) > w:
			row[c] = truncate(src[c], w)
		default:
			row[c] = src[c]
		}
	}
	if selected {
		row[colCursor] = "›"
		return
	}
	row[colCursor] = " "
	if m.widths[colState] > 0 {
		row[colState] = cached(m.styledState, row[colState], m.st.state)
	}
	if m.widths[colHealth] > 0 {
		row[colHealth] = cached(m.styledHealth, row[colHealth], m.st.health)
	}
	if m.widths[colError] > 0 && row[colError] != "" {
		if len(m.styledErr) > 4096 {
			clear(m.styledErr)
		}
		row[colError] = cached(m.styledErr, row[colError], func(string) lipgloss.Style { return m.st.err })
	}
}

// cached renders s in the style pick gives it, once per distinct s.
func cached(cache map[string]string, s string, pick func(string) lipgloss.Style) string {
	if out, ok := cache[s]; ok {
		return out
	}
	out := pick(s).Render(s)
	cache[s] = out
	return out
}

// View renders one frame.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "kpf · " + m.snap.Workspace
	return v
}

// Render is the frame as a string: what View shows, for tests and captures.
func (m *Model) Render() string {
	if m.quitting {
		return ""
	}
	parts := make([]string, 0, 8)
	parts = append(parts, m.table.View())
	if m.log.isOpen() {
		parts = append(parts, m.log.view(m.st))
	}
	parts = append(parts,
		m.fit(m.detailLine()),
		m.fit(m.noticeLine()),
	)
	for _, l := range m.specLines {
		parts = append(parts, m.st.err.Render(l))
	}
	parts = append(parts,
		m.fit(m.footerLine()),
		m.helpView(),
	)
	frame := strings.Join(parts, "\n")
	if strings.Count(frame, "\n") >= m.height {
		// A terminal smaller than the fixed lines: the top of the frame.
		frame = strings.Join(strings.SplitN(frame, "\n", m.height+1)[:m.height], "\n")
	}
	return frame
}

// helpView is the help bubble's view cut to the width: when not even its
// ellipsis fits, the bubble keeps adding items.
func (m *Model) helpView() string {
	lines := strings.Split(m.help.View(m.keys), "\n")
	for i, l := range lines {
		lines[i] = m.fit(l)
	}
	return strings.Join(lines, "\n")
}

// fit cuts a line to the terminal's width.
func (m *Model) fit(s string) string {
	return ansi.Truncate(s, m.width, "…")
}

// detailLine shows everything about the selected forward, including what
// the narrow table leaves out.
func (m *Model) detailLine() string {
	sel := m.table.Cursor()
	if len(m.visible) == 0 || sel < 0 || sel >= len(m.visible) {
		switch {
		case len(m.snap.Rows) == 0 && m.snap.At.IsZero():
			return m.st.faint.Render("Waiting for the first status…")
		case len(m.snap.Rows) == 0:
			return m.st.faint.Render("No forwards in this workspace.")
		default:
			return m.st.faint.Render(fmt.Sprintf("No forward matches %q.", m.filter.Value()))
		}
	}
	i := m.visible[sel]
	r, c := &m.snap.Rows[i], &m.cells[i]
	parts := []string{m.st.bold.Render(c[colName]), c[colTarget]}
	if r.WantedPort > 0 { // the column may be cut: say it in full here
		parts = append(parts, m.st.warn.Render("wants port "+strconv.Itoa(r.WantedPort)+", on "+oneLine(r.Local)))
	}
	if r.Context != "" || r.Namespace != "" {
		parts = append(parts, "in "+oneLine(r.Namespace)+"@"+oneLine(r.Context))
	}
	if r.Pod != "" {
		parts = append(parts, "pod "+c[colPod])
	}
	if r.Active >= 0 {
		conns := "conns " + formatCount(r.Active)
		if r.Total >= 0 {
			conns += "/" + formatCount(r.Total)
		}
		parts = append(parts, conns)
	}
	if r.BytesIn >= 0 && r.BytesOut >= 0 {
		parts = append(parts, fmt.Sprintf("in %s out %s", formatBytes(float64(r.BytesIn)), formatBytes(float64(r.BytesOut))))
		if m.widths[colTraffic] == 0 {
			parts = append(parts, c[colTraffic])
		}
	}
	if r.LastError != "" {
		parts = append(parts, m.st.err.Render("error: "+c[colError]))
	}
	return strings.Join(parts, "  ")
}

// noticeLine is the filter being typed, the filter in force, or the latest
// event or action result.
func (m *Model) noticeLine() string {
	if m.filtering {
		return m.filter.View()
	}
	var parts []string
	if q := m.filter.Value(); q != "" {
		parts = append(parts, m.st.accent.Render(fmt.Sprintf("/%s  %d of %d", q, len(m.visible), len(m.snap.Rows))))
	}
	if m.notice != "" {
		st := m.st.err
		if m.noErr {
			st = m.st.faint
		}
		parts = append(parts, st.Render(m.notice))
	}
	return strings.Join(parts, "  ")
}

// footerLine: workspace, a broken spec's first diagnostic, forwards per
// state, contexts, the last spec reload. Counts shorten when the line is
// too wide.
func (m *Model) footerLine() string {
	sep := m.st.faint.Render(" │ ")
	parts := []string{m.st.bold.Render(orDash(oneLine(m.snap.Workspace)))}
	if m.snap.SpecError != "" {
		// The diagnostic itself is on the lines above, whole.
		parts = append(parts, m.st.err.Render("spec not loaded"))
	}
	counts := m.stateCounts(false)
	var tail []string
	if len(m.snap.Contexts) > 0 {
		tail = append(tail, oneLine(strings.Join(m.snap.Contexts, ", ")))
	}
	if m.snap.SpecError == "" && !m.snap.SpecLoaded.IsZero() {
		tail = append(tail, m.st.faint.Render("spec loaded "+ago(m.snap.At.Sub(m.snap.SpecLoaded))))
	}
	line := strings.Join(append(append(parts, counts), tail...), sep)
	if ansi.StringWidth(line) > m.width {
		line = strings.Join(append(append(parts, m.stateCounts(true)), tail...), sep)
	}
	return line
}

// short names of the states for a narrow footer.
var shortState = map[string]string{
	StateRunning: "run", StateStarting: "start", StateRestarting: "restart", StateWaiting: "wait",
	StateFailed: "fail", StateExited: "exit", StateOrphaned: "orphan", StateStopped: "stop", StateDisabled: "off",
}

// stateCounts is "3 running 1 failed", in the order of stateOrder.
func (m *Model) stateCounts(short bool) string {
	if len(m.cells) == 0 {
		return "no forwards"
	}
	var out []string
	for _, s := range stateOrder {
		if n := m.counts[s]; n > 0 {
			name := s
			if short {
				name = shortState[s]
			}
			out = append(out, m.st.state(s).Render(fmt.Sprintf("%d %s", n, name)))
		}
	}
	for _, s := range sortedKeys(m.counts) {
		if !slices.Contains(stateOrder, s) {
			out = append(out, fmt.Sprintf("%d %s", m.counts[s], s))
		}
	}
	return strings.Join(out, " ")
}

// maxSpecLines is how many lines a broken spec's diagnostic may take.
const maxSpecLines = 2

// wrapDiagnostic wraps text at word boundaries into at most maxLines
// lines of width. Text that does not fit loses words from its middle,
// never a word cut in two, and keeps its end from "did you mean" on (the
// hint is the most useful part).
func wrapDiagnostic(text string, width, maxLines int) []string {
	if text == "" || width <= 0 {
		return nil
	}
	lines := strings.Split(ansi.Wrap(text, width, ""), "\n")
	if len(lines) <= maxLines {
		return lines
	}
	head, tail := text, ""
	if i := strings.LastIndex(strings.ToLower(text), "did you mean"); i > 0 {
		head, tail = strings.TrimRight(text[:i], " ;:,"), text[i:]
	}
	words := strings.Fields(head)
	for n := len(words); n > 0; n-- {
		cand := strings.Join(words[:n], " ") + " …"
		if tail != "" {
			cand += " " + tail
		}
		if lines := strings.Split(ansi.Wrap(cand, width, ""), "\n"); len(lines) <= maxLines {
			return lines
		}
	}
	return strings.Split(ansi.Wrap(text, width, ""), "\n")[:maxLines]
}
