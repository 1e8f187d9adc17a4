package native

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// DefaultIdleExit is how long an agent with no forwards waits for one
// before it exits.
const DefaultIdleExit = 10 * time.Second

// AgentOptions configure Serve.
type AgentOptions struct {
	// StateDir is the workspace's state directory: the socket lives there.
	StateDir string
	// Version is this kpf's version; a CLI of another version replaces
	// the agent.
	Version string
	Log     hclog.Logger
	// IdleExit overrides DefaultIdleExit.
	IdleExit time.Duration
	// Serve starts forwards; nil means the engine (client-go). Tests pass
	// a stand-in.
	Serve Server
	// Scrubber receives the sensitive values of every forward started
	// (see scrub.go); build Log over its Writer so that no log line shows
	// one. nil: the agent keeps its own (its log is then not scrubbed).
	Scrubber *redact.Scrubber

	// Listener, when set, is the agent socket's listener, bound by the
	// supervisor (Supervise) and inherited; nil means Serve binds it.
	Listener net.Listener
	// Kept are the forwards' listeners shared with the supervisor
	// (InheritedKept); nil: listeners are bound and closed as usual.
	Kept *Kept
	// Instance names this agent in handles; "" means a new random one. A
	// supervisor gives every serving agent it starts the same instance,
	// and Serve then first serves again the persisted forwards of that
	// instance (ForwardsFile).
	Instance string
	// Supervisor is the supervisor's pid (0: none); Restarts how many
	// serving agents it started before this one, and RestartCause why
	// the last one ended.
	Supervisor   int
	Restarts     int
	RestartCause string
	// RequestTimeout overrides DefaultRequestTimeout: how long a client
	// has to send its request once connected.
	RequestTimeout time.Duration
}

// Server starts forwards inside the agent.
type Server interface {
	Start(ctx context.Context, src kubeconfig.Source, s runtime.Spec) (Forward, error)
	Close()
}

// Forward is one forward an agent serves.
type Forward interface {
	Stop() error
	Status() engine.Status
	Events(since int) ([]engine.Event, <-chan struct{})
}

// agent is the state of a running agent.
type agent struct {
	opts     AgentOptions
	log      hclog.Logger
	hello    hello
	server   Server
	done     chan struct{} // closed by shutdown
	doneOnce sync.Once
	conns    connSet // the open control connections

	mu       sync.Mutex
	forwards map[string]*served // by id
	changed  chan struct{}      // closed and replaced whenever forwards change
	emptyAt  time.Time          // when the last forward went (or the agent started)
	gen      uint64             // counts changes of forwards, for persist

	tunnelsDue bool // a write of the open tunnels is scheduled

	pmu     sync.Mutex // serialises writes of the forward set
	written uint64     // the gen the forward set on disk reflects
}

type served struct {
	id, name string
	fwd      Forward
	stopped  chan struct{} // closed once stopped
	spec     runtime.Spec  // as started, with the port bound
	src      kubeconfig.Source
	restarts int // times a restarted agent served it again
}

// Serve runs the agent of the workspace in opts.StateDir until ctx ends,
// it is told to shut down, or it has had no forwards for IdleExit. Another
// agent already serving the workspace makes Serve return at once with
// ErrAgentRunning.
func Serve(ctx context.Context, opts AgentOptions) error {
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	if opts.IdleExit <= 0 {
		opts.IdleExit = DefaultIdleExit
	}
	if opts.Scrubber == nil {
		opts.Scrubber = redact.New()
	}
	raiseOpenFileLimit(opts.Log)
	stateDir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return fmt.Errorf("the agent's state directory: %w", err)
	}
	socket, err := SocketPath(opts.StateDir)
	if err != nil {
		return err
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = listen(ctx, socket); err != nil {
			return err
		}
	}
	if opts.Serve == nil {
		opts.Serve = newEngineServer(opts.Log, opts.Kept.Listen)
	}
	a := newAgent(opts, stateDir)
	if w, ok := a.server.(tunnelWarmer); ok {
		w.OnTunnelsChanged(a.tunnelsChanged)
	}
	a.log.Info("agent serving", "socket", socket, "pid", a.hello.PID, "version", opts.Version,
		"supervisor", opts.Supervisor, "restarts", opts.Restarts, "last_restart_cause", opts.RestartCause)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.restore(ctx) // before accepting: the CLI finds the forwards it knows
	go func() {
		select {
		case <-ctx.Done():
		case <-a.done:
		}
		cancel()
		_ = ln.Close()
	}()
	go a.idleExit(ctx)

	a.acceptLoop(ctx, ln)
	// The socket goes first, so that a CLI waiting for this agent to be gone
	// (shutdown) finds no socket once it no longer answers.
	_ = os.Remove(socket)
	a.stopAll()
	a.server.Close()
	a.conns.closeAll() // idle and streaming clients must not keep the agent
	a.log.Info("agent exited")
	return nil
}

func newAgent(opts AgentOptions, stateDir string) *agent {
	if opts.Instance == "" {
		opts.Instance = randomID()
	}
	return &agent{
		opts:     opts,
		log:      opts.Log,
		server:   opts.Serve,
		done:     make(chan struct{}),
		forwards: map[string]*served{},
		changed:  make(chan struct{}),
		emptyAt:  time.Now(),
		hello: hello{
			Version: opts.Version, Protocol: Protocol, PID: os.Getpid(),
			Instance: opts.Instance, Started: time.Now().UTC(), StateDir: stateDir,
			Supervisor: opts.Supervisor, Restarts: opts.Restarts, RestartCause: opts.RestartCause,
		},
	}
}

// stopAll stops every forward as the agent exits.
func (a *agent) stopAll() {
	// Stop everything: the listeners go with the agent, and no supervisor
	// is to serve them again.
	a.mu.Lock()
	all := a.forwards
	a.forwards = map[string]*served{}
	a.gen++
	a.mu.Unlock()
	a.persist()
	for _, s := range all {
		_ = s.fwd.Stop()
		close(s.stopped)
	}
}

// ErrAgentRunning is returned by Serve when another agent serves the
// workspace.
var ErrAgentRunning = errors.New("an agent already serves this workspace")

// listen binds the socket (0600 in the 0700 state directory). A socket file
// nobody answers on is left from an agent that died: it is replaced.
func listen(ctx context.Context, socket string) (net.Listener, error) {
	for range 2 {
		ln, err := net.Listen("unix", socket)
		if err == nil {
			if err := os.Chmod(socket, 0o600); err != nil {
				ln.Close()
				return nil, fmt.Errorf("securing the agent socket: %w", err)
			}
			if ul, ok := ln.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false) // Serve removes it, after stopping everything
			}
			return ln, nil
		}
		if _, herr := call(ctx, socket, request{Op: opHello}); herr == nil {
			return nil, ErrAgentRunning
		}
		fi, serr := os.Lstat(socket)
		if serr != nil || fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listening on %s: %w", socket, err)
		}
		if rerr := os.Remove(socket); rerr != nil {
			return nil, fmt.Errorf("removing the stale agent socket: %w", rerr)
		}
	}
	return nil, fmt.Errorf("listening on %s: the socket keeps reappearing", socket)
}

func (a *agent) shutdown() { a.doneOnce.Do(func() { close(a.done) }) }

// idleExit ends the agent once it has had no forwards for IdleExit.
func (a *agent) idleExit(ctx context.Context) {
	for {
		a.mu.Lock()
		n, emptyAt, changed := len(a.forwards), a.emptyAt, a.changed
		a.mu.Unlock()
		var timer <-chan time.Time
		if n == 0 {
			wait := time.Until(emptyAt.Add(a.opts.IdleExit))
			if wait <= 0 {
				a.log.Info("no forwards left; exiting")
				a.shutdown()
				return
			}
			timer = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer:
		}
	}
}

// notify marks a change of the forward set. Callers hold a.mu.
func (a *agent) notify() {
	a.gen++
	close(a.changed)
	a.changed = make(chan struct{})
	if len(a.forwards) == 0 {
		a.emptyAt = time.Now()
	}
}

func (a *agent) start(ctx context.Context, req request) response {
	if req.Forward == nil {
		return errorResponse(runtime.Permanent(fmt.Errorf("start without a forward")))
	}
	src := kubeconfig.Source{}
	if req.Kubeconfig != nil {
		src = req.Kubeconfig.source()
	}
	s, err := req.Forward.spec()
	scrub := a.opts.Scrubber
	scrub.Add(s.SensitiveValues()...)
	var fwd Forward
	if err != nil {
		if slices.Contains(s.Sensitive, redact.FieldTarget) {
			scrub.Add(req.Forward.Target) // s has no target to scrub it by
		}
		err = fmt.Errorf("forward %s: %w", s.Name, err) // as the engine words its errors
	} else {
		fwd, err = a.server.Start(ctx, src, s)
	}
	if err != nil {
		a.log.Warn("forward failed to start", "forward", s.Name, "error", err)
		r := errorResponse(err)
		r.Error = scrub.Scrub(r.Error)
		return r
	}
	fwd = scrubbedForward{Forward: fwd, s: scrub}
	id := s.Name + "-" + randomID()[:8]
	a.mu.Lock()
	a.forwards[id] = &served{id: id, name: s.Name, fwd: fwd, stopped: make(chan struct{}), spec: boundSpec(s, fwd), src: src}
	a.notify()
	a.mu.Unlock()
	a.persist() // before the answer: a handle names only what a restart serves again
	a.log.Info("forward started", "forward", s.Name, "id", id, "addr", fwd.Status().Addr)
	h := a.hello
	return response{ID: id, Hello: &h} // which agent serves it: the handle names it
}

func (a *agent) stop(id string) bool { return len(a.remove([]string{id})) > 0 }

// remove takes the forwards ids names out of the agent and stops them,
// returning those it served. The forward set is persisted once, before
// any stops: a restart must not bring them back, and a sweep of a
// thousand forwards writes the set once, not a thousand times.
func (a *agent) remove(ids []string) []*served {
	a.mu.Lock()
	var gone []*served
	for _, id := range ids {
		if s, ok := a.forwards[id]; ok {
			delete(a.forwards, id)
			gone = append(gone, s)
		}
	}
	if len(gone) > 0 {
		a.notify()
	}
	a.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	a.persist()
	for _, s := range gone {
		if err := s.fwd.Stop(); err != nil {
			a.log.Warn("stopping forward", "forward", s.name, "id", s.id, "error", err)
		}
		close(s.stopped)
		a.log.Info("forward stopped", "forward", s.name, "id", s.id)
	}
	return gone
}

func (a *agent) status(ids []string) response {
	a.mu.Lock()
	list := make([]*served, 0, len(ids))
	for _, id := range ids {
		if s, ok := a.forwards[id]; ok {
			list = append(list, s)
		}
	}
	if len(ids) == 0 {
		for _, s := range a.forwards {
			list = append(list, s)
		}
	}
	a.mu.Unlock()
	out := make(map[string]engine.Status, len(list))
	for _, s := range list {
		st := s.fwd.Status()
		st.Restarts = s.restarts
		out[s.id] = st
	}
	return statusResponse(out)
}

// sweep stops every forward whose id keep does not name.
func (a *agent) sweep(keep []string) []string {
	a.mu.Lock()
	var drop []string
	for id := range a.forwards {
		if !slices.Contains(keep, id) {
			drop = append(drop, id)
		}
	}
	a.mu.Unlock()
	var out []string
	for _, s := range a.remove(drop) {
		out = append(out, fmt.Sprintf("forward %s (native, agent id %s)", s.name, s.id))
	}
	slices.Sort(out)
	return out
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
