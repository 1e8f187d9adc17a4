package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// Name is the runtime's name in handles and specs.
const Name = "native"

// Runtime is the CLI side of the native runtime: it starts the
// workspace's agent when needed and asks it to start, stop and report
// forwards. It is safe for concurrent use.
type Runtime struct {
	// StateDir is the workspace's state directory (socket, agent logs).
	StateDir string
	// Executable is the kpf binary that runs `kpf agent`; "" means this
	// process's own executable.
	Executable string
	// AgentArgs come after "agent" on the agent's command line (the lead
	// flags, e.g. --log-level).
	AgentArgs []string
	// Version is this kpf's version: an agent of another version is
	// replaced (its forwards then read as gone, and are restarted).
	Version string
	// Kubeconfig says where the agent reads contexts from.
	Kubeconfig kubeconfig.Source
	Log        hclog.Logger
	// StartTimeout bounds waiting for a new agent (default 10 s).
	StartTimeout time.Duration

	mu      sync.Mutex // serialises agent start-up; guards ensured
	ensured bool       // an agent of this version answered this process
}

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Events  = (*Runtime)(nil)
	_ runtime.Sweeper = (*Runtime)(nil)
	_ runtime.Logs    = (*Runtime)(nil)

	_ runtime.ManyInspector = (*Runtime)(nil)
	_ runtime.Parallelism   = (*Runtime)(nil)
	_ runtime.IdleStopper   = (*Runtime)(nil)
)

// handleData is what a native handle remembers: the agent instance that
// serves the forward (a handle of an agent that exited names nothing) and
// the forward's name.
type handleData struct {
	Agent string `json:"agent"`
	Name  string `json:"name"`
}

func decodeHandle(h runtime.Handle) (handleData, error) {
	var d handleData
	err := h.DecodeData(Name, "native forward", &d)
	return d, err
}

func (r *Runtime) log() hclog.Logger {
	if r.Log == nil {
		return hclog.NewNullLogger()
	}
	return r.Log
}

func (r *Runtime) socket() (string, error) { return SocketPath(r.StateDir) }

// Start asks the agent (started if needed) to serve s, and returns once
// the listener is bound and the target resolved.
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Handle, error) {
	socket, err := r.socket()
	if err != nil {
		return runtime.Handle{}, err
	}
	src := r.Kubeconfig
	// Once this kpf has seen an agent of its own version, a start goes
	// straight to it (one round trip); the answer says which agent served
	// it, so a handle never names an agent that is not the one serving.
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !r.wasEnsured() {
			if _, err := r.ensure(ctx); err != nil {
				return runtime.Handle{}, err
			}
		}
		resp, err := call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStart, Forward: forwardToWire(s), Kubeconfig: kubeconfigToWire(src)})
		switch {
		case errors.Is(err, errNoAgent) && attempt == 0:
			r.setEnsured(false) // it died since: start one
			continue
		case err != nil:
			return runtime.Handle{}, err
		case resp.Hello == nil || resp.Hello.Version != r.Version:
			// Another kpf version's agent took the socket in between:
			// ensure replaces it (with the forward just started).
			r.setEnsured(false)
			if attempt == 0 {
				continue
			}
			return runtime.Handle{}, fmt.Errorf("the agent serving this workspace is of another kpf version")
		}
		data, err := runtime.NewData(handleData{Agent: resp.Hello.Instance, Name: s.Name})
		if err != nil {
			return runtime.Handle{}, err
		}
		return runtime.Handle{Runtime: Name, ID: resp.ID, Data: data}, nil
	}
}

func (r *Runtime) wasEnsured() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ensured
}

func (r *Runtime) setEnsured(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ensured = v
}

// current returns the running agent's instance, or "" when none runs.
func (r *Runtime) current(ctx context.Context) (string, error) {
	h, err := r.hello(ctx)
	if errors.Is(err, errNoAgent) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return h.Instance, nil
}

// Stop asks the agent to stop the forward. A forward whose agent is gone
// is gone too: nothing to do.
func (r *Runtime) Stop(ctx context.Context, h runtime.Handle) error {
	if h.IsZero() {
		return nil
	}
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	inst, err := r.current(ctx)
	if err != nil || inst != d.Agent {
		return err
	}
	socket, err := r.socket()
	if err != nil {
		return err
	}
	_, err = call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStop, ID: h.ID})
	if errors.Is(err, errNoAgent) {
		return nil
	}
	return err
}

// Inspect reports the forward as the agent sees it. Without an agent, or
// with another agent than the one that started it, it is not alive.
func (r *Runtime) Inspect(ctx context.Context, h runtime.Handle) (runtime.Status, error) {
	if h.IsZero() {
		return runtime.Unknown(), nil
	}
	sts, errs := r.InspectMany(ctx, []runtime.Handle{h})
	return sts[0], errs[0]
}

// InspectMany inspects hs in one request to the agent.
func (r *Runtime) InspectMany(ctx context.Context, hs []runtime.Handle) ([]runtime.Status, []error) {
	sts, errs := make([]runtime.Status, len(hs)), make([]error, len(hs))
	ids := make([]string, 0, len(hs))
	names := make([]string, len(hs))
	for i, h := range hs {
		sts[i] = runtime.Unknown()
		d, err := decodeHandle(h)
		if err != nil {
			errs[i] = err
			continue
		}
		names[i] = d.Name
		ids = append(ids, h.ID)
	}
	if len(ids) == 0 {
		return sts, errs
	}
	socket, err := r.socket()
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return sts, errs
	}
	resp, err := call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStatus, IDs: ids})
	if errors.Is(err, errNoAgent) && ctx.Err() == nil {
		// Once more: a serving agent that died with the request is being
		// started again by its supervisor, and answers from the backlog.
		resp, err = call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStatus, IDs: ids})
	}
	for i, h := range hs {
		switch es, ok := resp.Statuses[h.ID]; {
		case errs[i] != nil:
		case errors.Is(err, errNoAgent):
			sts[i].LastError = "the agent that served it is not running"
		case err != nil:
			errs[i] = err
		case !ok:
			sts[i].LastError = fmt.Sprintf("the agent no longer serves forward %s", names[i])
		default:
			sts[i] = toStatus(es.engine())
		}
	}
	return sts, errs
}

// ParallelStarts is how many starts the agent takes at once: each is a
// request (a target read, an informer join, a bind), not a process, so a
// re-apply after the agent died need not go ten at a time. 64 made 100
// restarts two waves, the second ~60 ms behind the first; target reads of
// starts that come together share a LIST, so more at once costs the API
// server little.
const ParallelStarts = 256

// Parallel is ParallelStarts (runtime.Parallelism).
func (r *Runtime) Parallel(string) int { return ParallelStarts }

// toStatus maps the engine's status to the runtime's.
func toStatus(es engine.Status) runtime.Status {
	return runtime.Status{
		Alive: es.Listening, LastError: es.LastError, Pod: es.Pod,
		Active: es.Active, Total: es.Total, BytesIn: es.BytesIn, BytesOut: es.BytesOut,
		Reconnects: es.Reconnects, Refused: es.Refused, Stalled: es.Stalled,
		Health: es.Health, HealthError: es.HealthError,
		LastCheck: es.LastCheck, Heals: true, Since: es.Since, Restarts: es.Restarts,
	}
}

// Watch reports each forward of hs that the agent stops serving, and all
// of them at once when the agent is not running or dies for good. A
// serving agent that dies and is started again by its supervisor serves
// the same forwards: the watch goes on with it, reporting only those it
// no longer serves.
func (r *Runtime) Watch(ctx context.Context, hs []runtime.Handle) <-chan runtime.Event {
	out := make(chan runtime.Event)
	byID := make(map[string]runtime.Handle, len(hs))
	ids := make([]string, 0, len(hs))
	for _, h := range hs {
		if h.Runtime == Name && !h.IsZero() {
			byID[h.ID] = h
			ids = append(ids, h.ID)
		}
	}
	go func() {
		defer close(out)
		if len(ids) == 0 {
			<-ctx.Done()
			return
		}
		send := func(id, why string) bool {
			select {
			case out <- runtime.Event{Handle: byID[id], Kind: runtime.EventExited, Detail: why}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		pending := slices.Clone(ids)
		allGone := func(why string) {
			for _, id := range pending {
				if !send(id, why) {
					return
				}
			}
			<-ctx.Done()
		}
		socket, err := r.socket()
		if err != nil {
			<-ctx.Done()
			return
		}
		// A stream that breaks is dialled again: the socket of a supervised
		// agent stays bound while its serving agent restarts. A few quick
		// breaks in a row mean the agent is gone.
		for quick, first := 0, true; quick < watchRedials; first = false {
			began := time.Now()
			err := r.watchStream(ctx, socket, &pending, send)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, errNoAgent) && first:
				allGone("the agent is not running")
				return
			case errors.Is(err, errNoAgent):
				allGone("the agent exited")
				return
			}
			if time.Since(began) > time.Second {
				quick = 0
			} else {
				quick++
			}
			r.log().Debug("the agent's watch stream broke; watching again", "error", err)
		}
		allGone("the agent exited")
	}()
	return out
}

// watchRedials is how many quick breaks of the watch stream in a row make
// Watch give up on the agent.
const watchRedials = 5

// watchStream watches *pending on one connection until it breaks
// (errNoAgent: no agent takes connections), sending and dropping from
// *pending each forward the agent reports stopped.
func (r *Runtime) watchStream(ctx context.Context, socket string, pending *[]string, send func(id, why string) bool) error {
	c, err := dial(ctx, socket)
	if err != nil {
		return err
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { _ = c.close() })
	defer stop()
	if err := c.send(request{StateDir: r.absStateDir(), Op: opWatch, IDs: *pending}); err != nil {
		return fmt.Errorf("asking the agent to watch: %w", err)
	}
	for {
		resp, err := c.recv()
		if err != nil {
			return err
		}
		if resp.Exited == "" {
			continue
		}
		*pending = slices.DeleteFunc(*pending, func(id string) bool { return id == resp.Exited })
		if !send(resp.Exited, "the agent stopped it") {
			return nil
		}
	}
}

// Sweep stops every forward the agent serves that keep does not name: those
// of an apply killed before it recorded them.
func (r *Runtime) Sweep(ctx context.Context, keep []runtime.Handle) ([]string, error) {
	socket, err := r.socket()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keep))
	for _, h := range keep {
		ids = append(ids, h.ID)
	}
	resp, err := call(ctx, socket, request{StateDir: r.absStateDir(), Op: opSweep, Keep: ids})
	if errors.Is(err, errNoAgent) {
		return nil, nil
	}
	return resp.Stopped, err
}

// Logs writes the forward's events (connections, pod switches, errors),
// and with follow new ones as they come, until ctx ends or the forward
// stops.
func (r *Runtime) Logs(ctx context.Context, h runtime.Handle, follow bool, w io.Writer) error {
	if _, err := decodeHandle(h); err != nil {
		return err
	}
	socket, err := r.socket()
	if err != nil {
		return err
	}
	c, err := dial(ctx, socket)
	if err != nil {
		return fmt.Errorf("forward %s: %w", h.ID, err)
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { _ = c.close() })
	defer stop()
	if err := c.send(request{StateDir: r.absStateDir(), Op: opEvents, ID: h.ID, Follow: follow}); err != nil {
		return err
	}
	for {
		resp, err := c.recv()
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading the agent's events: %w", err)
		}
		if err := resp.err(); err != nil {
			return err
		}
		if resp.Event != nil {
			if _, err := io.WriteString(w, FormatEvent(resp.Event.engine())+"\n"); err != nil {
				return err
			}
		}
	}
}
