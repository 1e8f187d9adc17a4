//go:build unix

package native

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// CanSupervise reports whether Supervise works on this OS (it passes the
// socket's listener to the serving agent as an inherited descriptor).
const CanSupervise = true

// SuperviseOptions configure Supervise.
type SuperviseOptions struct {
	// StateDir is the workspace's state directory: the socket lives there.
	StateDir string
	Log      hclog.Logger
	// Executable and Args run a serving agent. Supervise appends
	// --serve (the listener is the serving agent's descriptor 3),
	// --instance ID, --supervisor PID, --restarts N and, after a death,
	// --restart-cause TEXT.
	Executable string
	Args       []string
	// Liveness: how the supervisor tells a hung serving agent from a busy
	// one (zero values: the defaults below).
	Liveness Liveness
}

// Liveness is how a supervisor checks that its serving agent still answers:
// after Grace, a hello every Interval, each bounded by Timeout; Failures
// unanswered in a row mean it is hung (a deadlock, a stopped process), and
// it is killed and started again.
type Liveness struct {
	Grace, Interval, Timeout time.Duration
	Failures                 int
}

// Liveness defaults: a hung serving agent is replaced within about
// 3 × (2 s + 3 s) = 15 s; the grace covers its restore (restoreWait), during
// which it does not accept yet.
const (
	livenessInterval = 2 * time.Second
	livenessTimeout  = 3 * time.Second
	livenessFailures = 3
	livenessGrace    = restoreWait + livenessInterval
)

func (l Liveness) withDefaults() Liveness {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.Grace, livenessGrace)
	def(&l.Interval, livenessInterval)
	def(&l.Timeout, livenessTimeout)
	if l.Failures <= 0 {
		l.Failures = livenessFailures
	}
	return l
}

// Crash-loop backoff: a serving agent that died crashLoop times within
// crashWindow is started again only after a delay, doubling from
// crashBase up to crashMax.
const (
	crashWindow = 10 * time.Second
	crashLoop   = 3
	crashBase   = 250 * time.Millisecond
	crashMax    = 5 * time.Second
)

// Supervise is the agent's supervisor: it binds the workspace's socket and
// runs a serving agent on it (Serve, in a child process), and starts a new
// one at once when that one dies other than by exiting cleanly — the new
// one serves the persisted forwards again, under the same agent instance
// and ids. The socket stays bound all along: CLI connections wait in its
// backlog while a serving agent restarts. When the serving agent exits
// cleanly (idle, or told to shut down) Supervise returns; when ctx ends it
// asks the serving agent to exit and returns once it did. Another agent
// already serving the workspace makes Supervise return ErrAgentRunning.
func Supervise(ctx context.Context, o SuperviseOptions) error {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	socket, err := SocketPath(o.StateDir)
	if err != nil {
		return err
	}
	ln, err := listen(ctx, socket)
	if err != nil {
		return err
	}
	bound, _ := os.Stat(socket)
	defer func() {
		_ = ln.Close()
		// Only the socket bound here: a new agent may have bound the path
		// once the serving agent removed it.
		if now, err := os.Stat(socket); err == nil && bound != nil && os.SameFile(now, bound) {
			_ = os.Remove(socket)
		}
	}()
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		return fmt.Errorf("the agent socket is not a unix socket")
	}
	f, err := ul.File()
	if err != nil {
		return fmt.Errorf("passing on the agent socket: %w", err)
	}
	defer f.Close()
	raiseOpenFileLimit(o.Log) // it keeps a copy of every forward's listener
	s := &supervisor{o: o, socket: f, instance: randomID(), out: newScrubbedOutput(o.StateDir, os.Stderr), kept: newKeeper(o.Log)}
	defer s.kept.closeAll()
	o.Log.Info("supervisor started", "pid", os.Getpid(), "socket", socket, "instance", s.instance)
	return s.loop(ctx)
}

type supervisor struct {
	o        SuperviseOptions
	socket   *os.File
	instance string
	out      *scrubbedOutput
	// kept holds a copy of the serving agent's forward listeners, so that
	// their ports stay bound (connections wait in their backlogs) while
	// it restarts.
	kept *keeper
}

// loop runs serving agents until one exits cleanly or ctx ends.
func (s *supervisor) loop(ctx context.Context) error {
	var deaths []time.Time
	cause := ""
	for restarts := 0; ; restarts++ {
		err := s.runChild(ctx, restarts, cause)
		if err == nil || ctx.Err() != nil {
			s.o.Log.Info("the serving agent exited; supervisor exiting", "restarts", restarts)
			return nil
		}
		cause = err.Error()
		now := time.Now()
		deaths = append(slices.DeleteFunc(deaths, func(t time.Time) bool { return now.Sub(t) > crashWindow }), now)
		delay := time.Duration(0)
		if n := len(deaths); n >= crashLoop {
			delay = min(crashBase<<min(n-crashLoop, 8), crashMax)
			if !s.persisted() {
				s.o.Log.Error("the serving agent keeps dying and serves no forward; supervisor exiting", "cause", cause, "deaths", n)
				return fmt.Errorf("the serving agent died %d times within %s: %s", n, crashWindow, cause)
			}
		}
		s.o.Log.Warn("the serving agent died; starting it again", "cause", cause, "restarts", restarts+1, "delay", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// persisted reports whether forwards of this instance are persisted.
func (s *supervisor) persisted() bool {
	set, err := readForwardSet(s.o.StateDir)
	return err == nil && set.Instance == s.instance && len(set.Forwards) > 0
}

// runChild runs one serving agent until it exits: nil if it exited
// cleanly. When ctx ends it is asked to exit (SIGTERM).
func (s *supervisor) runChild(ctx context.Context, restarts int, cause string) error {
	kept := s.kept.files()
	link, agentEnd, err := s.kept.link()
	if err != nil {
		return fmt.Errorf("starting the serving agent: %w", err)
	}
	defer link.Close()
	args := append(slices.Clone(s.o.Args), "--serve", "--kept-listeners", strconv.Itoa(len(kept)),
		"--instance", s.instance, "--supervisor", strconv.Itoa(os.Getpid()), "--restarts", strconv.Itoa(restarts))
	if cause != "" {
		args = append(args, "--restart-cause", cause)
	}
	cmd := exec.Command(s.o.Executable, args...) // not CommandContext: ctx asks it to exit, never kills it
	cmd.ExtraFiles = append([]*os.File{s.socket, agentEnd}, kept...)
	// What the serving agent prints outside its log (a panic's trace, the
	// Go runtime's fatal errors) passes through the supervisor, scrubbed
	// of the persisted forwards' sensitive values, to agent.out.
	pr, pw, err := os.Pipe()
	if err != nil {
		_ = agentEnd.Close()
		return fmt.Errorf("starting the serving agent: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	_ = pw.Close()
	_ = agentEnd.Close()
	if err != nil {
		_ = pr.Close()
		return fmt.Errorf("starting the serving agent: %w", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.kept.serve(link)
	}()
	defer func() {
		_ = link.Close()
		<-served
	}()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer pr.Close()
		s.out.copy(pr)
	}()
	defer func() {
		// Its last words are written before the restart says why; not
		// longer than a second: a process it started (an exec credential
		// plugin) may still hold the pipe.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
	}()
	s.o.Log.Info("serving agent started", "pid", cmd.Process.Pid, "restarts", restarts)
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	defer stop()
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	hung := make(chan string, 1)
	go s.watchLiveness(lctx, cmd.Process, hung)
	err = cmd.Wait()
	lcancel()
	if err != nil {
		select {
		case why := <-hung:
			return fmt.Errorf("serving agent (pid %d) %s: killed", cmd.Process.Pid, why)
		default:
		}
		return fmt.Errorf("serving agent (pid %d): %w", cmd.Process.Pid, err)
	}
	return nil
}

// watchLiveness asks the serving agent p for a hello as Liveness says, and
// kills it (its own child: it started it) once it answered none Failures
// times in a row, saying why on hung. It returns when ctx ends.
func (s *supervisor) watchLiveness(ctx context.Context, p *os.Process, hung chan<- string) {
	l := s.o.Liveness.withDefaults()
	socket, err := SocketPath(s.o.StateDir)
	if err != nil {
		return
	}
	timer := time.NewTimer(l.Grace)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		cctx, cancel := context.WithTimeout(ctx, l.Timeout)
		resp, err := call(cctx, socket, request{Op: opHello})
		cancel()
		if ctx.Err() != nil {
			return // it exited meanwhile
		}
		if err == nil || resp.Hello != nil {
			failures = 0
		} else {
			failures++
			s.o.Log.Warn("the serving agent did not answer", "pid", p.Pid, "error", err, "in_a_row", failures)
		}
		if failures >= l.Failures {
			why := fmt.Sprintf("answered no hello within %s %d times in a row (hung)", l.Timeout, failures)
			s.o.Log.Error("the serving agent is hung: killing it", "pid", p.Pid, "why", why)
			hung <- why
			_ = p.Kill()
			return
		}
		timer.Reset(l.Interval)
	}
}

// InheritedListener is the agent socket's listener a supervisor passed to
// this serving agent (descriptor 3).
func InheritedListener() (net.Listener, error) {
	f := os.NewFile(3, "agent.sock")
	if f == nil {
		return nil, errors.New("no inherited agent socket (descriptor 3)")
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("the inherited agent socket: %w", err)
	}
	return ln, nil
}
