package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/redact"
)

// Spec is everything a runtime needs to run one forward. It carries no HCL
// and no kpf-specific policy: resolved values only.
type Spec struct {
	Name string
	// Runtime names the runtime that is to run the forward ("" = the
	// default). A Mux dispatches on it; a runtime ignores it.
	Runtime string
	// Target is the resource forwarded to, as spec parsed it (String
	// gives kubectl's TYPE/NAME); zero when Selector is set.
	Target kinds.Target
	// Selector picks a running pod by labels when Target is empty.
	Selector   map[string]string
	Context    string // always explicit, never the current context
	Namespace  string // always explicit
	Address    string // always explicit
	LocalPort  int    // never 0 here: ports are resolved before start
	RemotePort string // number or port name
	// Kubeconfig is the kubeconfig file to use when not empty.
	Kubeconfig string
	// Health is how the runtime may check the forward itself (runtimes
	// that cannot ignore it; reconcile probes the local port regardless).
	Health Health
	// ReadyTimeout bounds how long Start waits for readiness (default 30s).
	ReadyTimeout time.Duration
	// MaxConnections caps the connections served at once (0 = the
	// runtime's default); the excess is refused. Runtimes that cannot cap
	// ignore it.
	MaxConnections int `json:",omitempty"`
	// Sensitive names the fields whose value came from a sensitive
	// variable, as spec/model names them ("Target", "Context", "Health",
	// …; see internal/redact). A runtime keeps their values out of its
	// events, errors, statuses and logs (SensitiveValues).
	Sensitive []string `json:",omitempty"`
}

// SensitiveValues are the values a runtime must scrub for s (see
// redact.Values); nil when no field is sensitive.
func (s Spec) SensitiveValues() []string {
	if len(s.Sensitive) == 0 {
		return nil
	}
	return redact.Values(redact.Fields{
		Target: s.Target.String(), Selector: s.Selector, Context: s.Context, Namespace: s.Namespace,
		Address: s.Address, RemotePort: s.RemotePort, HealthPath: s.Health.HTTPPath,
		Sensitive: s.Sensitive,
	})
}

// Health is a forward's health check, in plain values. Zero durations and
// threshold take the defaults below.
type Health struct {
	Kind             string // "tcp", "http" or "none"
	HTTPPath         string
	Interval         time.Duration
	Timeout          time.Duration
	FailureThreshold int
	// WhileIdle: the spec asked for this check (a health block), so it runs
	// every Interval whether or not the forward is in use. Without it a
	// runtime may leave an idle forward unchecked (and says so: HealthIdle).
	WhileIdle bool
}

// The health-check defaults, for the spec and every runtime: one check every
// DefaultHealthInterval, each given DefaultHealthTimeout, and
// DefaultHealthThreshold failures in a row make a forward unhealthy.
const (
	DefaultHealthInterval  = 5 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultHealthThreshold = 3
)

// Health verdicts a runtime reports in Status.Health.
const (
	HealthHealthy   = "healthy"   // a check passed within its last interval + timeout
	HealthUnhealthy = "unhealthy" // FailureThreshold checks failed in a row, or nothing listens
	HealthUnknown   = "unknown"   // no verdict yet (HealthError says why, if anything failed)
	HealthNone      = "none"      // checks are off
	// HealthIdle: the forward is not in use and its spec asks for no
	// checks while idle, so none ran lately (Status.LastCheck says when).
	HealthIdle = "idle"
)

// Handle identifies a forward a runtime started. It is opaque above the
// runtime: Runtime says which runtime made it (and so which one stops it),
// ID is unique within that runtime, and Data is whatever else the runtime
// needs to find the forward again after kpf restarts (a JSON object; the
// kubectl runtime keeps the pid and process start time there).
//
// Handle is comparable: two handles are the same forward iff they are ==.
type Handle struct {
	Runtime string `json:"runtime"`
	ID      string `json:"id"`
	Data    Data   `json:"data,omitempty"`
}

// IsZero reports whether the handle names no forward.
func (h Handle) IsZero() bool { return h.ID == "" }

// String is "runtime:id", for logs and messages.
func (h Handle) String() string {
	if h.IsZero() {
		return ""
	}
	return h.Runtime + ":" + h.ID
}

// DecodeData decodes the Data of a handle that runtime made into v; what
// names its forwards in messages ("kubectl forward"). Both errors are
// permanent: a handle of another runtime, or a record damaged in the state
// file, which no retry repairs.
func (h Handle) DecodeData(runtime, what string, v any) error {
	if h.Runtime != runtime {
		return Permanent(fmt.Errorf("handle %s is not a %s", h, what))
	}
	if err := h.Data.Decode(v); err != nil {
		return Permanent(fmt.Errorf("handle %s: %w; `kpf destroy --forget NAME` drops the record", h, err))
	}
	return nil
}

// Data is a runtime's private JSON for a Handle, kept as compact JSON text so
// that Handle stays comparable. It marshals as the JSON value itself.
type Data string

// NewData encodes v as Data.
func NewData(v any) (Data, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding handle data: %w", err)
	}
	return Data(b), nil
}

// Decode decodes d into v.
func (d Data) Decode(v any) error {
	if d == "" {
		return errors.New("handle has no data")
	}
	if err := json.Unmarshal([]byte(d), v); err != nil {
		return fmt.Errorf("decoding handle data: %w", err)
	}
	return nil
}

// MarshalJSON writes the JSON value (null when empty).
func (d Data) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	return []byte(d), nil
}

// UnmarshalJSON keeps the JSON value, compacted.
func (d *Data) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = ""
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*d = Data(buf.String())
	return nil
}

// Status is what Inspect observed. Fields a runtime cannot tell keep their
// "unknown" value: "" for strings, -1 for counters (see Unknown).
type Status struct {
	// Alive is true only if the forward exists and is the one started.
	Alive bool
	// LastError is the forward's last error, if any ("error: lost
	// connection to pod").
	LastError string
	// Pod is the pod the forward sends connections to now ("" = unknown).
	Pod string
	// Active and Total count connections: open now, and since start.
	Active, Total int64
	// BytesIn (from the cluster) and BytesOut (to it), since start.
	BytesIn, BytesOut int64
	// Reconnects counts tunnels re-opened after the first.
	Reconnects int64
	// Refused counts connections refused because MaxConnections were open.
	Refused int64
	// Stalled counts connections reset because their local client stopped
	// reading while the pod sent (it would have held up the others).
	Stalled int64
	// Health is the runtime's own verdict (one of the Health* verdicts;
	// "" = the runtime does not check).
	Health      string
	HealthError string
	// LastCheck is when the runtime's last health check ended, passed or
	// failed (zero: none yet, or the runtime does not say).
	LastCheck time.Time
	// Since is when the runtime last started serving the forward, if it
	// says (zero: it does not): later than kpf's start when the runtime
	// started it again by itself. Restarts counts those restarts (the
	// native agent's supervisor starting a killed agent again); kpf's own
	// are in its state.
	Since    time.Time
	Restarts int
	// Heals is true when the runtime repairs the forward itself (the
	// native agent): an unhealthy forward is then reported, not restarted —
	// a restart would only close its listener.
	Heals bool
}

// Unknown is a Status whose counters are unknown: runtimes that report no
// counters start from it.
func Unknown() Status {
	return Status{Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Refused: -1, Stalled: -1}
}

// Runtime runs forwards. Implementations must be safe for concurrent use.
type Runtime interface {
	// Start starts a forward and returns once it is ready to accept
	// connections, or with an error once it failed or timed out. A returned
	// error may be permanent (see IsPermanent) or wrap ErrPortInUse.
	Start(ctx context.Context, s Spec) (Handle, error)
	// Stop stops the forward. It is safe to call twice, and it never
	// touches anything that is not the forward h names.
	Stop(ctx context.Context, h Handle) error
	// Inspect reports whether the forward is alive, its last error and
	// whatever counters the runtime keeps.
	Inspect(ctx context.Context, h Handle) (Status, error)
}

// EventKind says what happened to a forward.
type EventKind string

// Event kinds.
const (
	// EventExited: the forward stopped serving (its process exited, or the
	// process holding it is gone). A reconcile pass is due.
	EventExited EventKind = "exited"
	// EventChanged: something a status shows changed (pod, health).
	EventChanged EventKind = "changed"
)

// Event is one thing that happened to a forward.
type Event struct {
	Handle Handle
	Kind   EventKind
	// Detail says why, for logs ("" when the runtime cannot tell).
	Detail string
}

// Events is implemented by runtimes that can report at once what happens to
// their forwards, so that a watch acts without waiting for its timer. It is
// optional: without it, changes are seen at the next check.
type Events interface {
	// Watch reports events of the forwards hs names, including forwards
	// another kpf process started, until ctx ends; then the channel is
	// closed. A forward that is already gone is reported at once. Callers
	// that track a changing set call Watch again with a new ctx.
	Watch(ctx context.Context, hs []Handle) <-chan Event
}

// ManyInspector is implemented by runtimes that inspect many forwards at
// once more cheaply than one by one (the agent answers for all of its
// forwards in one request).
type ManyInspector interface {
	// InspectMany returns one status and one error per handle, in order.
	InspectMany(ctx context.Context, hs []Handle) ([]Status, []error)
}

// InspectEach is InspectMany for a runtime that inspects one at a time.
func InspectEach(ctx context.Context, rt Runtime, hs []Handle) ([]Status, []error) {
	sts, errs := make([]Status, len(hs)), make([]error, len(hs))
	for i, h := range hs {
		sts[i], errs[i] = rt.Inspect(ctx, h)
	}
	return sts, errs
}

// Parallelism is implemented by runtimes that say how many of their starts
// and stops may run at once; callers use at least their own bound.
type Parallelism interface {
	// Parallel is the bound for forwards of the named runtime ("" = the
	// default); 0 means no opinion.
	Parallel(runtimeName string) int
}

// Logs is implemented by runtimes that keep a forward's log themselves
// (the native agent's events); others log to a file kpf reads.
type Logs interface {
	// Logs writes the forward's log to w; with follow it keeps writing
	// until ctx ends or the forward stops.
	Logs(ctx context.Context, h Handle, follow bool, w io.Writer) error
}

// IdleStopper is implemented by runtimes that keep a process of their own
// between forwards (the native agent): StopIdle makes it exit now when it
// serves no forward, rather than after its idle timeout.
type IdleStopper interface {
	StopIdle(ctx context.Context) error
}

// Sweeper is implemented by runtimes that can find the forwards of their
// workspace that no state names — left by a kpf killed between starting a
// forward and recording it, or by a crashed agent — and stop them.
type Sweeper interface {
	// Sweep stops every forward of the runtime's workspace that keep does
	// not name, and says what it stopped (one line each, for the user).
	Sweep(ctx context.Context, keep []Handle) ([]string, error)
}

// ErrPermanent marks errors that retrying cannot fix: an unknown context,
// RBAC denial, a missing resource. Test with IsPermanent.
var ErrPermanent = errors.New("permanent")

// IsPermanent reports whether err (or anything it wraps) is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// Permanent marks err as permanent (errors.Is ErrPermanent) without
// changing its message: what the user reads is err's text alone, never a
// ": permanent" suffix. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// ErrPortInUse marks a start that failed because the local port is taken.
// Callers move the forward to another port rather than retrying the same
// one; runtimes wrap it (never match a runtime's error text).
var ErrPortInUse = errors.New("local port in use")

// ErrNoPod marks a start (or a connection) that found no running, Ready pod
// behind the target. It is worth retrying: a pod may become Ready.
var ErrNoPod = errors.New("no ready pod")

// FormatSelector renders a label selector as kubectl does (its -l
// value): "a=1,b=2", keys sorted; "" for none.
func FormatSelector(sel map[string]string) string {
	if len(sel) == 0 {
		return ""
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(sel)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(sel[k])
	}
	return b.String()
}
