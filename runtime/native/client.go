package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/runtime/proc"
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
	if h.Runtime != Name {
		return d, runtime.Permanent(fmt.Errorf("handle %s is not a native forward", h))
	}
	if err := h.Data.Decode(&d); err != nil {
		// Its record in the state file is damaged: no retry repairs it.
		return d, runtime.Permanent(fmt.Errorf("handle %s: %w; `kpf destroy --forget NAME` drops the record", h, err))
	}
	return d, nil
}

func (r *Runtime) log() hclog.Logger {
	if r.Log == nil {
		return hclog.NewNullLogger()
	}
	return r.Log
}

func (r *Runtime) socket() (string, error) { return SocketPath(r.StateDir) }

// hello asks the running agent who it is; errNoAgent when none runs.
func (r *Runtime) hello(ctx context.Context) (*hello, error) {
	socket, err := r.socket()
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, socket, request{Op: opHello, Version: r.Version})
	if resp.Hello != nil && resp.Hello.Protocol != Protocol {
		return resp.Hello, nil // an agent of another protocol: replaced by ensure
	}
	if err != nil {
		return nil, err
	}
	if err := r.checkStateDir(socket, resp.Hello); err != nil {
		return nil, err
	}
	return resp.Hello, nil
}

// absStateDir is the state directory as requests name it: an agent
// refuses a request naming another workspace's.
func (r *Runtime) absStateDir() string {
	if dir, err := filepath.Abs(r.StateDir); err == nil {
		return dir
	}
	return r.StateDir
}

// checkStateDir refuses an agent that serves another state directory than
// r's: its socket was reached through a link (a hard link, a bind mount).
// An agent too old to say (no StateDir) is of another version, replaced.
func (r *Runtime) checkStateDir(socket string, h *hello) error {
	if h == nil || h.StateDir == "" {
		return nil
	}
	own, err := filepath.Abs(r.StateDir)
	if err != nil {
		return fmt.Errorf("the state directory: %w", err)
	}
	if filepath.Clean(h.StateDir) != own {
		return runtime.Permanent(fmt.Errorf("refusing the agent at %s: it serves the workspace whose state is in %s, not this one's (%s)",
			socket, h.StateDir, own))
	}
	return nil
}

// ensure returns the agent to use, starting one (or replacing one of
// another version) when needed.
func (r *Runtime) ensure(ctx context.Context) (*hello, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.hello(ctx)
	switch {
	case err == nil && h.Version == r.Version && h.Protocol == Protocol:
		r.ensured = true
		return h, nil
	case err == nil:
		// Warn is shown at kpf's default log level (and goes to the watch
		// log while the live view owns the terminal).
		r.log().Warn("replacing the workspace's agent, which another kpf version started; its forwards restart",
			"agent_version", h.Version, "version", r.Version, "agent_pid", h.PID)
		if err := r.shutdown(ctx, h); err != nil {
			return nil, err
		}
	case !errors.Is(err, errNoAgent):
		return nil, err
	}
	h, err = r.spawn(ctx)
	r.ensured = err == nil
	return h, err
}

// shutdown asks agent h to exit and waits until its socket is gone.
func (r *Runtime) shutdown(ctx context.Context, h *hello) error {
	socket, err := r.socket()
	if err != nil {
		return err
	}
	_, _ = call(ctx, socket, request{StateDir: r.absStateDir(), Op: opShutdown})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := call(ctx, socket, request{Op: opHello}); errors.Is(err, errNoAgent) {
			if _, serr := os.Lstat(socket); errors.Is(serr, os.ErrNotExist) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("the agent (pid %d) did not exit when told to", h.PID)
}

// spawn starts the agent detached in its own session and waits until it
// answers.
func (r *Runtime) spawn(ctx context.Context) (*hello, error) {
	exe := r.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding kpf's executable for the agent: %w", err)
		}
	}
	logDir := filepath.Join(r.StateDir, "logs")
	if err := safefs.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the agent's log directory: %w", err)
	}
	// Never through a link (its target would be emptied) nor into a FIFO
	// (opening it would block this kpf, which holds the workspace lock).
	out, err := safefs.Create(filepath.Join(logDir, "agent.out"), 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the agent's output file: %w", err)
	}
	args := append([]string{"agent", "--state-dir", r.StateDir}, r.AgentArgs...)
	cmd := exec.Command(exe, args...) // not CommandContext: it must outlive ctx
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = proc.Detached()
	cmd.Env = os.Environ()
	err = cmd.Start()
	_ = out.Close()
	if err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it if it exits while kpf lives
	r.log().Debug("started the agent", "pid", cmd.Process.Pid)

	timeout := r.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		h, err := r.hello(ctx)
		if err == nil {
			return h, nil
		}
		select {
		case werr := <-exited:
			// Another kpf's agent may have won the race for the socket.
			if h, err := r.hello(ctx); err == nil {
				return h, nil
			}
			return nil, fmt.Errorf("the agent exited at start (%v): %s", werr, r.agentOutput())
		case <-deadline.C:
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("the agent did not answer within %s: %s", timeout, r.agentOutput())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// agentOutput is the end of what the agent printed, for errors.
func (r *Runtime) agentOutput() string {
	b, err := safefs.ReadFile(filepath.Join(r.StateDir, "logs", "agent.out"))
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "no output"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

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
		resp, err := call(ctx, socket, request{StateDir: r.absStateDir(), Op: opStart, Forward: &s, Kubeconfig: &src})
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
			sts[i] = toStatus(es)
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
			if _, err := io.WriteString(w, FormatEvent(*resp.Event)+"\n"); err != nil {
				return err
			}
		}
	}
}

// FormatEvent renders an event as one log line.
func FormatEvent(ev engine.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(string(ev.Kind))
	if ev.Pod != "" {
		b.WriteString(" pod=" + ev.Pod)
	}
	if ev.BytesIn > 0 || ev.BytesOut > 0 {
		b.WriteString(" in=" + strconv.FormatInt(ev.BytesIn, 10) + " out=" + strconv.FormatInt(ev.BytesOut, 10))
	}
	if ev.Message != "" {
		b.WriteString(" " + ev.Message)
	}
	return b.String()
}

// StopIdleAgent makes the workspace's agent exit now when it serves no
// forward (after kpf destroy nothing should wait for its idle exit). The
// caller holds the workspace lock, so no Start races it.
func (r *Runtime) StopIdleAgent(ctx context.Context) error {
	h, err := r.hello(ctx)
	if errors.Is(err, errNoAgent) {
		return nil
	}
	if err != nil {
		return err
	}
	if h.Forwards > 0 || h.Protocol != Protocol {
		return nil
	}
	return r.shutdown(ctx, h)
}

// AgentPID is the pid of the workspace's running (serving) agent, 0 when
// none runs (for status and tests).
func (r *Runtime) AgentPID(ctx context.Context) int {
	h, err := r.hello(ctx)
	if err != nil {
		return 0
	}
	return h.PID
}

// SupervisorPID is the pid of the running agent's supervisor, 0 when none
// runs (for status and tests).
func (r *Runtime) SupervisorPID(ctx context.Context) int {
	h, err := r.hello(ctx)
	if err != nil {
		return 0
	}
	return h.Supervisor
}
