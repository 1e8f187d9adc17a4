package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/state"
)

type logsOptions struct {
	Follow bool
}

func (a *app) logsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a forward's log (its events, or kubectl's output); -f to follow",
		Long: `logs prints a forward's log: the agent's events about it (connections, pod
switches, errors); for a forward of the kubectl runtime, kubectl's output, with
a line from kpf at each start. On a terminal, control characters are shown
escaped (\x1b) so that nothing in the log acts on the terminal; piped or
redirected, the log is copied byte for byte. -f follows the log as it grows
(a kubectl log across rotations).`,
		Example: `  kpf logs api
  kpf logs -f db`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return nil
			}
			if len(args) > 1 {
				return fmt.Errorf("logs takes one forward's name, got %d arguments", len(args))
			}
			names := a.forwardNames()
			if len(names) == 0 {
				return errors.New("logs needs a forward's name; this workspace has no forwards")
			}
			return fmt.Errorf("logs needs a forward's name, one of: %s", termtext.Escape(strings.Join(names, ", ")))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.logs(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing as the log grows, across rotations, until interrupted")
	return cmd
}

func (a *app) logs(ctx context.Context, out io.Writer, name string, o logsOptions) error {
	store, err := a.workspaceView()
	if err != nil {
		return err
	}
	// On a terminal nothing in a log may act on it.
	if tf, ok := out.(*os.File); ok && isatty.IsTerminal(tf.Fd()) {
		tw := termtext.NewWriter(out)
		defer tw.Flush()
		out = tw
	}
	return a.writeLog(ctx, store, name, o.Follow, out)
}

// writeLog writes the log of forward name of the workspace in store to
// out; with follow it keeps writing until ctx ends (or out fails).
func (a *app) writeLog(ctx context.Context, store *state.Store, name string, following bool, out io.Writer) error {
	// A runtime that keeps the log itself (the native agent) prints it.
	st, err := store.Load()
	if err != nil {
		return err
	}
	// kubectl writes its log itself, values from sensitive variables
	// included; the agent's events have none, but the state may know more.
	a.hide(nil, st)
	sw := a.scrub.Writer(out)
	defer sw.Flush()
	out = sw
	if fw, ok := st.Forwards[name]; ok && !fw.Handle.IsZero() {
		if mux := a.runtimes(store); mux.KeepsLogs(fw.Handle) {
			return a.followHandles(ctx, store, name, fw.Handle, mux, following, out)
		}
	}
	path := store.LogPath(name)
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if _, known := st.Forwards[name]; known || slices.Contains(a.forwardNames(), name) {
			return fmt.Errorf("forward %q has no log yet: it has never been started in this workspace (kpf apply starts it)", termtext.Escape(name))
		}
		if names := a.forwardNames(); len(names) > 0 {
			return fmt.Errorf("no such forward %q in this workspace (its forwards: %s)", termtext.Escape(name), termtext.Escape(strings.Join(names, ", ")))
		}
		return fmt.Errorf("no such forward %q: this workspace has no forwards", termtext.Escape(name))
	}
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	fl := &follower{path: path, f: f}
	defer func() { fl.f.Close() }() // the file followed last
	if _, err := io.Copy(out, f); err != nil {
		return fmt.Errorf("reading log: %w", err)
	}
	if !following {
		return nil
	}
	return fl.run(ctx, out, 250*time.Millisecond)
}

// handlePoll is how often a log that follows a forward looks for its new
// handle once the old one's log ended (the forward was restarted).
const handlePoll = 250 * time.Millisecond

// handleErrWait is how long a followed log that failed waits for a new
// handle before the failure is the answer.
const handleErrWait = 3 * time.Second

// followHandles prints the log of forward name, started under handle h, by
// its runtime. Following, a log that ends while ctx lasts (the forward was
// restarted or replaced: its handle's stream is over) goes on with the log
// of the forward's next handle, as the state records it, after a line that
// says so; it waits for one as long as ctx lasts.
func (a *app) followHandles(ctx context.Context, store *state.Store, name string, h runtime.Handle, mux *runtime.Mux, following bool, out io.Writer) error {
	for {
		err := mux.Logs(ctx, h, following, out)
		if !following || ctx.Err() != nil {
			return err
		}
		// A log that ended waits for the forward's next handle; one that
		// failed goes on only if a new handle comes soon (the failure was
		// the old one going away), else it is the error.
		wait := time.Duration(0)
		if err != nil {
			wait = handleErrWait
		}
		next, ok := a.nextHandle(ctx, store, name, h, wait)
		if !ok {
			return err
		}
		if err != nil {
			a.log.Debug("the log of a replaced handle failed", "forward", name, "error", err)
		}
		if _, err := fmt.Fprintf(out, "--- kpf: %s started again; following its new log\n", termtext.Escape(name)); err != nil {
			return err
		}
		h = next
		if !mux.KeepsLogs(h) {
			return nil // now a runtime whose log is a file: not followed here
		}
	}
}

// nextHandle waits, as long as ctx lasts, for the state to record forward
// name under a handle other than old; within > 0 bounds the wait.
func (a *app) nextHandle(ctx context.Context, store *state.Store, name string, old runtime.Handle, within time.Duration) (runtime.Handle, bool) {
	t := time.NewTicker(handlePoll)
	defer t.Stop()
	var deadline <-chan time.Time
	if within > 0 {
		dt := time.NewTimer(within)
		defer dt.Stop()
		deadline = dt.C
	}
	for {
		select {
		case <-ctx.Done():
			return runtime.Handle{}, false
		case <-deadline:
			return runtime.Handle{}, false
		case <-t.C:
		}
		if st, err := store.Load(); err == nil {
			fw, ok := st.Forwards[name]
			if ok && !fw.Handle.IsZero() && (fw.Handle.ID != old.ID || fw.Handle.Runtime != old.Runtime) {
				a.hide(nil, st)
				return fw.Handle, true
			}
		}
	}
}

// follower copies what is appended to a forward's log as it grows, across
// both ways a log rotates:
//   - rename (a new start moves NAME.log to NAME.log.1 and kubectl writes a
//     new NAME.log): what was left in the old file is copied, then the new
//     NAME.log is opened and copied from its beginning;
//   - copy and truncate (rotation while the forward runs): the file is read
//     again from its beginning.
type follower struct {
	path string
	f    *os.File // positioned after what was copied
}

func (l *follower) run(ctx context.Context, out io.Writer, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := l.poll(out); err != nil {
			return fmt.Errorf("following log: %w", err)
		}
	}
}

// poll copies what is new, following a rotation if there was one.
func (l *follower) poll(out io.Writer) error {
	pos, err := l.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	cur, err := l.f.Stat()
	if err != nil {
		return err
	}
	if cur.Size() < pos { // truncated in place
		if _, err := l.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	if _, err := io.Copy(out, l.f); err != nil {
		return err
	}
	at, err := os.Lstat(l.path)
	if err != nil || os.SameFile(at, cur) {
		return nil // not rotated (or the new log is not there yet)
	}
	nf, err := safefs.OpenFile(l.path, os.O_RDONLY, 0)
	if err != nil {
		return nil // the next poll tries again
	}
	// Whatever reached the old file between the copy above and now.
	_, err = io.Copy(out, l.f)
	l.f.Close()
	l.f = nf
	if err != nil {
		return err
	}
	_, err = io.Copy(out, l.f)
	return err
}

// forwardNames lists, sorted, the names of this workspace's forwards: those
// of the spec (if it loads) and those its state records. Errors read as
// no names: it only serves to tell the user what they could have asked.
func (a *app) forwardNames() []string {
	if a.log == nil { // argument checks run before setup
		a.log = hclog.NewNullLogger()
	}
	seen := map[string]bool{}
	if ws, _, _, err := a.loadSpecQuietly(); err == nil && ws != nil {
		for _, f := range ws.Forwards {
			seen[f.Name] = true
		}
	}
	if store, err := a.workspaceView(); err == nil {
		if st, err := store.Load(); err == nil {
			for name := range st.Forwards {
				seen[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
