package runtime

import (
	"context"
	"errors"
	"time"
)

// Spec is everything a runtime needs to run one forward. It carries no HCL
// and no kpf-specific policy: resolved values only.
type Spec struct {
	Name string
	// Target is kubectl's TYPE/NAME ("service/api"); empty when Selector is set.
	Target string
	// Selector picks a running pod by labels when Target is empty.
	Selector   map[string]string
	Context    string // always passed explicitly (--context)
	Namespace  string // always passed explicitly (--namespace)
	Address    string // always passed explicitly (--address)
	LocalPort  int    // never 0 here: ports are resolved before start
	RemotePort string // number or port name
	// Kubeconfig is passed as --kubeconfig when not empty.
	Kubeconfig string
	// LogPath receives the forward process's stdout and stderr (appended).
	LogPath string
	// ReadyTimeout bounds how long Start waits for readiness (default 30s).
	ReadyTimeout time.Duration
}

// Handle identifies a process a runtime started. PID alone is never enough:
// StartTime guards against pid reuse.
type Handle struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // opaque, platform-specific process start stamp
}

// IsZero reports whether the handle names no process.
func (h Handle) IsZero() bool { return h.PID == 0 }

// Status is what Inspect observed.
type Status struct {
	// Alive is true only if the process exists and is the one that was started.
	Alive bool
	// LastError is the last error line the forward process logged, if any
	// (e.g. "error: lost connection to pod").
	LastError string
}

// Runtime runs forwards. Implementations must be safe for concurrent use.
type Runtime interface {
	// Start starts a forward and returns once it is ready to accept
	// connections, or with an error once it failed or timed out. A returned
	// error may be permanent (see IsPermanent).
	Start(ctx context.Context, s Spec) (Handle, error)
	// Stop stops the forward. It is safe to call twice, and it never signals
	// a process that is not the one h names.
	Stop(ctx context.Context, h Handle) error
	// Inspect reports whether the forward's process is alive and the last
	// error it logged. logPath may be "".
	Inspect(ctx context.Context, h Handle, logPath string) (Status, error)
}

// ErrPermanent marks errors that retrying cannot fix: an unknown context,
// RBAC denial, a missing resource. Test with IsPermanent.
var ErrPermanent = errors.New("permanent")

// IsPermanent reports whether err (or anything it wraps) is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// ErrPortInUse marks a start that failed because the local port is taken.
// Callers move the forward to another port rather than retrying the same
// one; runtimes wrap it (never match a runtime's error text).
var ErrPortInUse = errors.New("local port in use")

// ErrNoPod marks a start (or a connection) that found no running, Ready pod
// behind the target. It is worth retrying: a pod may become Ready.
var ErrNoPod = errors.New("no ready pod")

// ExitWaiter is implemented by runtimes that can wait for a forward process
// to exit even when another kpf process started it (on Linux through a
// pidfd). The watch loop uses it to act on an exit at once rather than at
// its next check.
type ExitWaiter interface {
	// WaitExit returns nil once the process h names has exited (at once if
	// it is already gone), ctx's error when ctx ends first, or an error
	// wrapping errors.ErrUnsupported where the platform cannot wait.
	WaitExit(ctx context.Context, h Handle) error
}
