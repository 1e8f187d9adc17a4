package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

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
		Short: "Print a forward's log (kubectl's output); -f to follow",
		Example: `  kpf logs api
  kpf logs -f db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.logs(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing as the log grows, until interrupted")
	return cmd
}

func (a *app) logs(ctx context.Context, out io.Writer, name string, o logsOptions) error {
	store, err := a.workspaceStore()
	if err != nil {
		return err
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
	if fw, ok := st.Forwards[name]; ok && !fw.Handle.IsZero() {
		if lr, ok := a.runtimes(store).Runtimes[fw.Handle.Runtime].(runtime.Logs); ok {
			return lr.Logs(ctx, fw.Handle, following, out)
		}
	}
	path := store.LogPath(name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forward %q has no log yet (it has not been started in this workspace)", name)
	}
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(out, f); err != nil {
		return fmt.Errorf("reading log: %w", err)
	}
	if !following {
		return nil
	}
	return follow(ctx, f, out, 250*time.Millisecond)
}

// follow copies what is appended to f until ctx is done. A log that is
// truncated (a new start) is read again from its beginning.
func follow(ctx context.Context, f *os.File, out io.Writer, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("following log: %w", err)
		}
		if fi, err := f.Stat(); err == nil && fi.Size() < pos {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("following log: %w", err)
			}
		}
		if _, err := io.Copy(out, f); err != nil {
			return fmt.Errorf("following log: %w", err)
		}
	}
}
