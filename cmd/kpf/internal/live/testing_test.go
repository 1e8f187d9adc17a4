package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// t0 is the time of the first snapshot of every test.
var t0 = time.Date(2026, 11, 30, 19, 4, 5, 0, time.UTC)

// frame renders m as a terminal with profile p would show it.
func frame(t *testing.T, m *Model, p colorprofile.Profile) string {
	t.Helper()
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: p}
	if _, err := io.WriteString(w, m.Render()); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}

// press is the key message a terminal sends for s: a rune, or a name.
func press(s string) tea.KeyPressMsg {
	named := map[string]rune{
		"up": tea.KeyUp, "down": tea.KeyDown, "enter": tea.KeyEnter, "esc": tea.KeyEscape,
		"pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "home": tea.KeyHome, "end": tea.KeyEnd,
		"backspace": tea.KeyBackspace,
	}
	if code, ok := named[s]; ok {
		return tea.KeyPressMsg{Code: code}
	}
	if s == "ctrl+c" {
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// send feeds msg to m and runs the commands it returns, and theirs, up to
// depth steps: a command that would block (a log read with nothing left)
// is never reached as long as depth is small enough.
func send(m *Model, msg tea.Msg, depth int) {
	_, cmd := m.Update(msg)
	run(m, cmd, depth)
}

func run(m *Model, cmd tea.Cmd, depth int) {
	for ; cmd != nil && depth > 0; depth-- {
		msg := cmd()
		switch msg := msg.(type) {
		case nil:
			return
		case tea.BatchMsg:
			for _, c := range msg {
				run(m, c, depth-1)
			}
			return
		default:
			_, cmd = m.Update(msg)
		}
	}
}

// fakeActions records calls; Log serves the chunks of logs[name], then
// blocks until closed (a followed log) unless ended is set.
type fakeActions struct {
	mu       sync.Mutex
	calls    []string
	err      error
	logs     map[string][]string
	ended    bool
	closed   int
	logError error
}

func (f *fakeActions) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeActions) Restart(_ context.Context, name string) error {
	f.record("restart " + name)
	return f.err
}

func (f *fakeActions) Open(_ context.Context, name string) error {
	f.record("open " + name)
	return f.err
}

func (f *fakeActions) Log(_ context.Context, name string, follow bool) (io.ReadCloser, error) {
	f.record(fmt.Sprintf("log %s follow=%v", name, follow))
	if f.logError != nil {
		return nil, f.logError
	}
	r := &chunkReader{chunks: make(chan string, len(f.logs[name])), done: make(chan struct{}), onClose: func() {
		f.mu.Lock()
		f.closed++
		f.mu.Unlock()
	}}
	for _, c := range f.logs[name] {
		r.chunks <- c
	}
	if f.ended {
		close(r.chunks)
	}
	return r, nil
}

type chunkReader struct {
	chunks  chan string
	done    chan struct{}
	once    sync.Once
	onClose func()
}

func (r *chunkReader) Read(p []byte) (int, error) {
	select {
	case c, ok := <-r.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, c), nil
	case <-r.done:
		return 0, errors.New("closed")
	}
}

func (r *chunkReader) Close() error {
	r.once.Do(func() { close(r.done); r.onClose() })
	return nil
}

// workspace is a realistic workspace: every state, both runtimes (the
// kubectl runtime reports no pod, connections or bytes).
func workspace(at time.Time, step int64) Snapshot {
	kb := int64(1000)
	rows := []Row{
		{Name: "api", Local: "127.0.0.1:8080", Target: "service/api", Context: "kind-dev", Namespace: "shop", Pod: "api-7f9c4d-x2lq", State: StateRunning, Health: "healthy", Active: 3, Total: 41 + step, BytesIn: 120*kb + step*step*40*kb, BytesOut: 30*kb + step*8*kb, Restarts: 0, Uptime: 3*time.Hour + 12*time.Minute},
		{Name: "cart", Local: "127.0.0.1:8081", Target: "deployment/cart", Context: "kind-dev", Namespace: "shop", Pod: "cart-5d8b9-qq7rm", State: StateRestarting, Health: "-", Active: 0, Total: 7, BytesIn: 4 * kb, BytesOut: kb, Restarts: 2, Uptime: 0, LastError: "pod cart-5d8b9-abcde deleted; switching"},
		{Name: "grafana", Local: "127.0.0.1:3000", Target: "service/grafana", Context: "kind-ops", Namespace: "monitoring", Pod: "", State: StateRunning, Health: "failing", Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown, Restarts: 1, Uptime: 47 * time.Minute, LastError: "GET /api/health: 503 Service Unavailable"},
		{Name: "orders", Local: "[::1]:9090", Target: "app=orders,tier=backend", Context: "kind-dev", Namespace: "shop", Pod: "orders-0", State: StateWaiting, Health: "unhealthy", Active: 0, Total: 0, BytesIn: 0, BytesOut: 0, Restarts: 5, Uptime: 20 * time.Second, LastError: "no Ready pod for app=orders,tier=backend"},
		{Name: "payments", Local: "127.0.0.1:8443", Target: "service/payments", Context: "kind-dev", Namespace: "shop", Pod: "payments-6c7d-8kz2p", State: StateStarting, Health: "unknown", Active: 0, Total: 0, BytesIn: 0, BytesOut: 0, Restarts: 0, Uptime: 2 * time.Second},
		{Name: "postgres", Local: "127.0.0.1:5432", Target: "statefulset/postgres", Context: "kind-dev", Namespace: "data", Pod: "postgres-0", State: StateRunning, Health: "healthy", Active: 12, Total: 230 + step, BytesIn: 2_000*kb + step*300*kb, BytesOut: 900*kb + step*120*kb, Restarts: 0, Uptime: 26*time.Hour + 5*time.Minute},
		{Name: "rabbitmq", Local: "127.0.0.1:15672", Target: "service/rabbitmq", Context: "kind-dev", Namespace: "data", State: StateFailed, Health: "-", Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown, Restarts: 4, LastError: `services "rabbitmq" not found`},
		{Name: "redis", Local: "127.0.0.1:6379", Target: "service/redis", Context: "kind-dev", Namespace: "data", State: StateExited, Health: "-", Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown, Restarts: 3, LastError: "exit status 1: error: lost connection to pod"},
		{Name: "search", Local: "127.0.0.1:9200", Target: "service/elasticsearch", Context: "kind-dev", Namespace: "search", State: StateStopped, Health: "-", Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown},
		{Name: "legacy", Local: "127.0.0.1:7000", Target: "service/legacy", Context: "kind-dev", Namespace: "shop", State: StateDisabled, Health: "-", Active: Unknown, Total: Unknown, BytesIn: Unknown, BytesOut: Unknown},
		{Name: "old-admin", Local: "127.0.0.1:8090", Target: "service/admin", Context: "kind-dev", Namespace: "shop", Pod: "admin-1", State: StateOrphaned, Health: "healthy", Active: 0, Total: 2, BytesIn: 10 * kb, BytesOut: 2 * kb, Restarts: 0, Uptime: 90 * time.Minute},
	}
	// The caller's order: by name.
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			if rows[j].Name < rows[i].Name {
				rows[i], rows[j] = rows[j], rows[i]
			}
		}
	}
	return Snapshot{
		Workspace:  "shop",
		Contexts:   []string{"kind-dev", "kind-ops"},
		Rows:       rows,
		At:         at,
		SpecLoaded: t0.Add(-2 * time.Minute),
	}
}

// fed returns a model of the given size that has seen snapshots of the
// workspace every 2 s for the last 40 s, so sparklines have a history.
func fed(t *testing.T, width, height int, opts Options) *Model {
	t.Helper()
	opts.Width, opts.Height = width, height
	m := New(context.Background(), opts)
	for i := int64(0); i <= 20; i++ {
		send(m, workspace(t0.Add(time.Duration(i-20)*2*time.Second), i), 1)
	}
	return m
}

func frameLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
