//go:build linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a component gets between SIGTERM and SIGKILL. The
// apiserver ignores SIGTERM while a port-forward is open.
const stopGrace = 5 * time.Second

// component is one control-plane process, restartable with the same argv.
type component struct {
	name    string
	bin     string
	args    []string
	logPath string
	grace   time.Duration // between SIGTERM and SIGKILL; 0: stopGrace

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed once cmd has been reaped
	waitErr error
}

// start runs the component in its own process group with its output
// appended to its log file. It is killed if the starting process dies.
func (c *component) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		select {
		case <-c.done:
		default:
			return fmt.Errorf("%s is already running (pid %d)", c.name, c.cmd.Process.Pid)
		}
	}
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("opening the log of %s: %w", c.name, err)
	}
	fmt.Fprintf(f, "==== %s starting %s\n", time.Now().Format(time.RFC3339Nano), c.name)
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdin = nil
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	done := make(chan struct{})
	c.cmd, c.done, c.waitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		f.Close()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited returns a non-nil error once the process has ended.
func (c *component) exited() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return fmt.Errorf("%s was never started", c.name)
	}
	select {
	case <-c.done:
		if c.waitErr != nil {
			return fmt.Errorf("%s exited: %w", c.name, c.waitErr)
		}
		return fmt.Errorf("%s exited", c.name)
	default:
		return nil
	}
}

// started reports whether start ever succeeded.
func (c *component) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

// pid is the running process id, or 0.
func (c *component) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	select {
	case <-c.done:
		return 0
	default:
		return c.cmd.Process.Pid
	}
}

// stop sends SIGTERM to the process group, SIGKILL after stopGrace (or when
// ctx ends), and waits until the process is reaped. Safe to call twice.
func (c *component) stop(ctx context.Context) error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	pgid := cmd.Process.Pid // Setpgid: the group id is the pid we started
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling %s: %w", c.name, err)
	}
	_ = syscall.Kill(-pgid, syscall.SIGCONT) // a frozen one handles SIGTERM once thawed
	grace := c.grace
	if grace == 0 {
		grace = stopGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", c.name, err)
	}
	<-done
	return nil
}

// signal sends sig to the component's process group (it runs in its own);
// an error when it is not running.
func (c *component) signal(sig syscall.Signal) error {
	pid := c.pid()
	if pid == 0 {
		return fmt.Errorf("%s is not running", c.name)
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return fmt.Errorf("signalling %s (%s): %w", c.name, sig, err)
	}
	return nil
}
