package live

import (
	"context"
	"errors"
	"io"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// logPane follows one forward's log below the table. Each opening gets a
// new generation; messages of an older one are dropped (their reader is
// already closed).
type logPane struct {
	name    string
	gen     int
	active  bool
	rc      io.ReadCloser
	cancel  context.CancelFunc
	lines   []string
	partial string
	status  string // "following", "ended", or the error
	failed  bool
	vp      viewport.Model
}

type logOpenedMsg struct {
	gen int
	rc  io.ReadCloser
	err error
}

type logDataMsg struct {
	gen  int
	data []byte
	err  error
}

func newLogPane() logPane {
	return logPane{vp: viewport.New()}
}

func (l *logPane) isOpen() bool { return l.active }

// open starts following name's log; the reader is opened in a command.
func (l *logPane) open(ctx context.Context, a Actions, name string) tea.Cmd {
	l.close()
	l.gen++
	l.active, l.name = true, name
	l.lines, l.partial = l.lines[:0], ""
	l.status, l.failed = "opening", false
	l.vp.SetContentLines(nil)
	ctx, l.cancel = context.WithCancel(ctx)
	gen := l.gen
	return func() tea.Msg {
		rc, err := a.Log(ctx, name, true)
		return logOpenedMsg{gen: gen, rc: rc, err: err}
	}
}

// close stops following; a Read in flight returns once rc is closed.
func (l *logPane) close() {
	if !l.active {
		return
	}
	l.active = false
	l.gen++
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	if l.rc != nil {
		_ = l.rc.Close()
		l.rc = nil
	}
}

func (l *logPane) opened(msg logOpenedMsg) tea.Cmd {
	if msg.gen != l.gen {
		if msg.rc != nil {
			_ = msg.rc.Close()
		}
		return nil
	}
	if msg.err != nil {
		l.status, l.failed = msg.err.Error(), true
		return nil
	}
	l.rc, l.status = msg.rc, "following"
	return readLog(l.gen, msg.rc)
}

func readLog(gen int, r io.Reader) tea.Cmd {
	return func() tea.Msg {
		buf := make([]byte, 32<<10)
		n, err := r.Read(buf)
		return logDataMsg{gen: gen, data: buf[:n], err: err}
	}
}

func (l *logPane) data(msg logDataMsg, keep int) tea.Cmd {
	if msg.gen != l.gen {
		return nil
	}
	if len(msg.data) > 0 {
		text := l.partial + string(msg.data)
		parts := strings.Split(text, "\n")
		l.partial = parts[len(parts)-1]
		for _, p := range parts[:len(parts)-1] {
			l.lines = append(l.lines, cleanLogLine(p))
		}
		if over := len(l.lines) - keep; over > 0 {
			l.lines = append(l.lines[:0], l.lines[over:]...)
		}
		shown := l.lines
		if l.partial != "" {
			shown = append(shown[:len(shown):len(shown)], cleanLogLine(l.partial))
		}
		l.vp.SetContentLines(shown)
		l.vp.GotoBottom()
	}
	switch {
	case msg.err == nil:
		return readLog(l.gen, l.rc)
	case errors.Is(msg.err, io.EOF):
		l.status = "ended"
	default:
		l.status, l.failed = msg.err.Error(), true
	}
	return nil
}

func cleanLogLine(s string) string {
	s = strings.TrimSuffix(s, "\r")
	s = strings.ReplaceAll(s, "\t", "    ")
	return oneLine(ansi.Strip(s))
}

func (l *logPane) resize(width, height int) {
	l.vp.SetWidth(width)
	l.vp.SetHeight(max(height-1, 0))
	l.vp.GotoBottom()
}

// view is a title line and the log's last lines.
func (l *logPane) view(st styles) string {
	status := st.faint.Render("(" + oneLine(l.status) + ", esc closes)")
	if l.failed {
		status = st.err.Render("(" + oneLine(l.status) + ")")
	}
	title := st.title.Render("log "+l.name) + " " + status
	title = ansi.Truncate(title, l.vp.Width(), "…")
	if l.vp.Height() == 0 {
		return title
	}
	body := l.vp.View()
	if len(l.lines) == 0 && l.partial == "" {
		body = lipgloss.NewStyle().Width(l.vp.Width()).Height(l.vp.Height()).Render(st.faint.Render("(no output yet)"))
	}
	return title + "\n" + body
}
