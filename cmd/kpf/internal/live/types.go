package live

import (
	"context"
	"io"
	"time"
)

// States a Row shows. The first six are reconcile's status states; the
// others are transitions a runtime may report.
const (
	StateRunning    = "running"
	StateExited     = "exited"
	StateFailed     = "failed"
	StateStopped    = "stopped"
	StateDisabled   = "disabled"
	StateOrphaned   = "orphaned"
	StateStarting   = "starting"
	StateRestarting = "restarting"
	StateWaiting    = "waiting" // no Ready pod; new connections wait
)

// stateOrder is the order of the footer's per-state counts.
var stateOrder = []string{
	StateRunning, StateStarting, StateRestarting, StateWaiting,
	StateFailed, StateExited, StateOrphaned, StateStopped, StateDisabled,
}

// Unknown is the value of a numeric Row field the runtime does not report.
const Unknown = -1

// Row is one forward as the caller sees it at one moment.
type Row struct {
	Name  string
	Local string // address:port as it is dialled, "[::1]:80" for IPv6
	// WantedPort is the port the spec asks for when the forward runs on
	// another one (that one was taken): LOCAL shows "127.0.0.1:8081 (wants
	// 8080)", as kpf status does. 0 when it is on the port it asked for, or
	// asked for any.
	WantedPort int
	Target     string // TYPE/NAME, or the selector as a=1,b=2
	Context    string
	Namespace  string
	Pod        string // the pod in use; "" unknown
	State      string // a State* constant
	Health     string // reconcile's health; "" or "-" when not known
	// Active and Total are open and all-time connections; Unknown (-1)
	// when the runtime does not report them.
	Active, Total int64
	// BytesIn and BytesOut are cumulative bytes (from the pod, to the pod);
	// Unknown (-1) when the runtime does not report them.
	BytesIn, BytesOut int64
	// Restarts counts the times kpf stopped and started the forward: the
	// RST column is kpf status's RESTARTS, abbreviated as CONN is CONNS (a
	// native forward's tunnel reconnects are not restarts: status --json
	// has them apart).
	Restarts  int
	Uptime    time.Duration
	LastError string
}

// Snapshot is the whole workspace at one moment. Send it to the program
// (it is a tea.Msg) each time the caller has observed the world.
type Snapshot struct {
	Workspace  string
	Contexts   []string
	Rows       []Row
	At         time.Time // when the rows were observed
	SpecLoaded time.Time // last successful load of the spec; zero if unknown
	SpecError  string    // first diagnostic of a broken spec, "" when it loads
}

// Event is something that happened to one forward (a restart, a pod switch,
// a failed start). Send it to the program; the latest is shown on the notice
// line.
type Event struct {
	At   time.Time
	Name string // the forward; "" for the workspace
	Text string
	Err  bool // shown as an error
}

// Actions is what the view can ask of the caller. Each call runs in a
// bubbletea command, off the UI goroutine, with the context given to New.
type Actions interface {
	// Restart restarts (kubectl) or reconnects (native) the forward.
	Restart(ctx context.Context, name string) error
	// Open opens the forward in the browser.
	Open(ctx context.Context, name string) error
	// Log returns the forward's log; with follow, the reader blocks for
	// more until it is closed or ctx is done. The view closes it.
	Log(ctx context.Context, name string, follow bool) (io.ReadCloser, error)
}
