package measure

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// BuildKpf returns bin made absolute, or, when bin is empty, builds
// cmd/kpf into dir and returns its path there.
func BuildKpf(ctx context.Context, bin, dir string) (string, error) {
	if bin != "" {
		return filepath.Abs(bin)
	}
	out := filepath.Join(dir, "kpf")
	b, err := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/kpf-dev/kpf/cmd/kpf").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building kpf: %w: %s", err, b)
	}
	return out, nil
}

// Env is the environment of a kpf run against kubeconfig with its state
// under stateDir (KPF_STATE_DIR): PATH and HOME of this process, no
// colours, then extra.
func Env(kubeconfig, stateDir string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"KUBECONFIG=" + kubeconfig,
		"KPF_STATE_DIR=" + stateDir,
		"NO_COLOR=1",
	}
	return append(env, extra...)
}

// watchingPrefix starts the line `kpf apply --watch` prints once it
// watches.
const watchingPrefix = "Watching "

// Watch is a running `kpf apply --watch`.
type Watch struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	log    hclog.Logger
	stderr SyncBuffer
	once   sync.Once

	mu     sync.Mutex
	stdout []string // its lines so far
}

// StartWatch starts cmd, a `kpf apply --watch` made with a context that
// cancel cancels, and waits until it prints its "Watching " line: for at
// most within, or until ctx ends. It owns cmd's stdout and stderr; it
// interrupts cmd (SIGINT, then a kill 10 s later) when that context is
// cancelled. On an error the watch is stopped already.
func StartWatch(ctx context.Context, cmd *exec.Cmd, cancel context.CancelFunc, within time.Duration, log hclog.Logger) (*Watch, error) {
	w := &Watch{cmd: cmd, cancel: cancel, log: log}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = &w.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting kpf apply --watch: %w", err)
	}
	watching := waitLine(stdout, watchingPrefix, func(line string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.stdout = append(w.stdout, line)
	})
	select {
	case <-watching:
		return w, nil
	case <-time.After(within):
		err = fmt.Errorf("kpf apply --watch did not start watching:\n%s", Tail(w.Stderr(), 2000))
	case <-ctx.Done():
		err = ctx.Err()
	}
	w.Stop()
	return nil, err
}

// waitLine reads r to its end, line by line, calling each (if not nil)
// with every line; the channel it returns closes at the first line that
// starts with prefix.
func waitLine(r io.Reader, prefix string, each func(string)) <-chan struct{} {
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			if each != nil {
				each(sc.Text())
			}
			if strings.HasPrefix(sc.Text(), prefix) {
				once.Do(func() { close(seen) })
			}
		}
	}()
	return seen
}

// Stop interrupts the watch and waits for it to end; an end other than
// the interrupt's is logged, with the tail of its stderr. Later calls do
// nothing.
func (w *Watch) Stop() {
	w.once.Do(func() {
		w.cancel()
		if err := w.cmd.Wait(); err != nil && !IsInterrupted(err) {
			w.log.Warn("kpf apply --watch", "error", err, "stderr", Tail(w.Stderr(), 1000))
		}
	})
}

// PID is the watch's process id.
func (w *Watch) PID() int { return w.cmd.Process.Pid }

// Stdout is what the watch printed on stdout so far, its lines joined by
// newlines.
func (w *Watch) Stdout() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.stdout, "\n")
}

// Stderr is what the watch printed on stderr (its log) so far.
func (w *Watch) Stderr() string { return w.stderr.String() }
