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
}

type served struct {
	id, name string
	fwd      Forward
	stopped  chan struct{} // closed once stopped
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
	raiseOpenFileLimit(opts.Log)
	stateDir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return fmt.Errorf("the agent's state directory: %w", err)
	}
	socket, err := SocketPath(opts.StateDir)
	if err != nil {
		return err
	}
	ln, err := listen(ctx, socket)
	if err != nil {
		return err
	}
	if opts.Serve == nil {
		opts.Serve = newEngineServer(opts.Log)
	}
	a := &agent{
		opts:     opts,
		log:      opts.Log,
		server:   opts.Serve,
		done:     make(chan struct{}),
		forwards: map[string]*served{},
		changed:  make(chan struct{}),
		emptyAt:  time.Now(),
		hello: hello{
			Version: opts.Version, Protocol: Protocol, PID: os.Getpid(),
			Instance: randomID(), Started: time.Now().UTC(), StateDir: stateDir,
		},
	}
	a.log.Info("agent serving", "socket", socket, "pid", a.hello.PID, "version", opts.Version)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
	// Stop everything: the listeners go with the agent.
	a.mu.Lock()
	for _, s := range a.forwards {
		_ = s.fwd.Stop()
		close(s.stopped)
	}
	a.forwards = map[string]*served{}
	a.mu.Unlock()
	a.server.Close()
	a.conns.closeAll() // idle and streaming clients must not keep the agent
	a.log.Info("agent exited")
	return nil
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
	close(a.changed)
	a.changed = make(chan struct{})
	if len(a.forwards) == 0 {
		a.emptyAt = time.Now()
	}
}

func (a *agent) start(ctx context.Context, req request) response {
	if req.Forward == nil {
		return errorResponse(fmt.Errorf("start without a forward: %w", runtime.ErrPermanent))
	}
	src := kubeconfig.Source{}
	if req.Kubeconfig != nil {
		src = *req.Kubeconfig
	}
	s := *req.Forward
	fwd, err := a.server.Start(ctx, src, s)
	if err != nil {
		a.log.Warn("forward failed to start", "forward", s.Name, "error", err)
		return errorResponse(err)
	}
	id := s.Name + "-" + randomID()[:8]
	a.mu.Lock()
	a.forwards[id] = &served{id: id, name: s.Name, fwd: fwd, stopped: make(chan struct{})}
	a.notify()
	a.mu.Unlock()
	a.log.Info("forward started", "forward", s.Name, "id", id, "addr", fwd.Status().Addr)
	h := a.hello
	return response{ID: id, Hello: &h} // which agent serves it: the handle names it
}

func (a *agent) stop(id string) bool {
	a.mu.Lock()
	s, ok := a.forwards[id]
	if ok {
		delete(a.forwards, id)
		a.notify()
	}
	a.mu.Unlock()
	if !ok {
		return false
	}
	if err := s.fwd.Stop(); err != nil {
		a.log.Warn("stopping forward", "forward", s.name, "id", id, "error", err)
	}
	close(s.stopped)
	a.log.Info("forward stopped", "forward", s.name, "id", id)
	return true
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
		out[s.id] = s.fwd.Status()
	}
	return response{Statuses: out}
}

// sweep stops every forward whose id keep does not name.
func (a *agent) sweep(keep []string) []string {
	a.mu.Lock()
	var drop []*served
	for id, s := range a.forwards {
		if !slices.Contains(keep, id) {
			drop = append(drop, s)
		}
	}
	a.mu.Unlock()
	var out []string
	for _, s := range drop {
		if a.stop(s.id) {
			out = append(out, fmt.Sprintf("forward %s (native, agent id %s)", s.name, s.id))
		}
	}
	slices.Sort(out)
	return out
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
