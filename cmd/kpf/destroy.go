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
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

func (a *app) destroyCommand() *cobra.Command {
	var forget bool
	cmd := &cobra.Command{
		Use:   "destroy [NAME...]",
		Short: "Stop this workspace's forwards (all, or the named ones)",
		Long: `destroy stops the forwards kpf started for this workspace and forgets them.
It reads only the state, not the spec, so it works while the spec has errors.
A process is signalled only if it is still the one kpf started, belongs to
you and is not kpf itself or pid 1. A record whose process kpf may not stop
is kept and reported; --forget drops such records without touching any
process.`,
		Example: `  kpf destroy
  kpf destroy api db
  kpf destroy --forget api`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if forget {
				return a.forget(cmd.Context(), cmd.OutOrStdout(), names)
			}
			return a.destroy(cmd.Context(), cmd.OutOrStdout(), names)
		},
	}
	cmd.Flags().BoolVar(&forget, "forget", false, "drop the named forwards from state without stopping (or signalling) anything")
	return cmd
}

// forget drops the named records from state, touching no process.
func (a *app) forget(ctx context.Context, out io.Writer, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("--forget needs the names of the forwards to forget")
	}
	if a.noStateFolder() {
		return unknownNames(nil, names)
	}
	store, st, unlock, err := a.lockedState(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := unknownNames(st.Forwards, names); err != nil {
		return err
	}
	for _, n := range names {
		delete(st.Forwards, n)
	}
	if err := store.Save(st); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintf(out, "forward.%s: forgotten (no process was signalled)\n", termtext.Escape(n))
	}
	return nil
}

// noStateFolder reports whether this workspace has no state folder: it
// has run nothing (apply makes the folder before it starts anything), so
// destroy has nothing to stop and creates nothing to say so.
func (a *app) noStateFolder() bool {
	view, err := a.workspaceView()
	if err != nil {
		return false
	}
	_, err = os.Stat(view.Dir())
	return errors.Is(err, fs.ErrNotExist)
}

func unknownNames(have map[string]state.Forward, names []string) error {
	var unknown []string
	for _, n := range names {
		if _, ok := have[n]; !ok {
			unknown = append(unknown, termtext.Escape(n))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("no running forward named %s in this workspace", strings.Join(unknown, ", "))
	}
	return nil
}

func (a *app) destroy(ctx context.Context, out io.Writer, names []string) error {
	if a.noStateFolder() {
		if len(names) > 0 {
			return unknownNames(nil, names)
		}
		fmt.Fprintln(out, "No forwards to stop.")
		return nil
	}
	store, st, unlock, err := a.lockedState(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	rt := a.runtimeFor(store)
	a.sweep(ctx, rt, st)
	defer a.stopIdleAgent(ctx, store) // before unlock
	selected := slices.Sorted(maps.Keys(st.Forwards))
	if len(names) > 0 {
		if err := unknownNames(st.Forwards, names); err != nil {
			return err
		}
		selected = names
	}
	if len(selected) == 0 {
		fmt.Fprintln(out, "No forwards to stop.")
		return nil
	}
	p := reconcile.Plan{Workspace: st.Name}
	for _, n := range selected {
		prior := st.Forwards[n]
		p.Changes = append(p.Changes, reconcile.Change{
			Name: n, Action: reconcile.Stop, Reason: "destroy", Port: prior.LocalPort, Prior: &prior,
		})
	}
	applier := &reconcile.Applier{
		Runtime:     rt,
		Store:       store,
		State:       st,
		Log:         a.log.Named("destroy"),
		Hook:        views.NewProgress(out),
		MaxParallel: spec.DefaultMaxParallel,
	}
	res := applier.Apply(ctx, p)
	stopped, neverRan := 0, 0
	for _, o := range res.Outcomes {
		switch {
		case o.Err != nil:
		case o.NeverRan:
			neverRan++
		default:
			stopped++
		}
	}
	summary := fmt.Sprintf("%d stopped", stopped)
	if neverRan > 0 {
		summary += fmt.Sprintf(", %d removed that never started", neverRan)
	}
	a.destroyEnvFile(store, st)
	if res.Failed > 0 {
		fmt.Fprintf(out, "Destroy finished with errors: %s, %d failed.\n", summary, res.Failed)
		a.exit = exitError
		return nil
	}
	fmt.Fprintf(out, "Destroy complete: %s.\n", summary)
	return nil
}

// destroyEnvFile removes the env file once no forward is left, or
// rewrites it for those left when the spec loads. The caller holds the lock.
func (a *app) destroyEnvFile(store *state.Store, st *state.File) {
	a.keepHosts(st)
	if st.EnvFile == "" {
		return
	}
	var err error
	if len(st.Forwards) == 0 {
		if err = removeEnvFile(st.EnvFile); err == nil {
			st.EnvFile = ""
			err = store.Save(st)
		}
	} else if ws, _, diags, lerr := a.loadSpecQuietly(); lerr == nil && ws != nil && !diags.HasErrors() {
		err = a.writeEnvFile(ws, st)
	}
	if err != nil {
		fmt.Fprintf(a.io.Err, "Warning: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
	}
}

// lockedState opens the workspace's state (the spec is not needed: destroy
// works while the spec has errors), takes the workspace lock and loads the
// state under it. The caller calls unlock.
func (a *app) lockedState(ctx context.Context) (*state.Store, *state.File, func(), error) {
	store, err := a.workspaceStore()
	if err != nil {
		return nil, nil, nil, err
	}
	unlock, err := a.lock(ctx, store)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := store.Load()
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return store, st, unlock, nil
}

// stopIdleAgent makes the workspace's agent exit now if destroy (or its
// sweep) left it no forward, rather than after its idle exit. The caller
// holds the workspace lock.
func (a *app) stopIdleAgent(ctx context.Context, store *state.Store) {
	if err := a.runtimes(store).StopIdle(ctx); err != nil {
		a.log.Warn("stopping the idle agent", "error", err)
	}
}
