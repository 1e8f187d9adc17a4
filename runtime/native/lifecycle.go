package native

// The agent's lifecycle as the CLI sees it: finding the workspace's agent
// (hello), starting one (spawn) or replacing one of another build
// (ensure), and stopping it (shutdown, StopIdle). client.go holds the
// calls to it, eventview.go how its events read.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

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

// StopIdle (runtime.IdleStopper) makes the workspace's agent exit now when it serves no
// forward (after kpf destroy nothing should wait for its idle exit). The
// caller holds the workspace lock, so no Start races it.
func (r *Runtime) StopIdle(ctx context.Context) error {
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
