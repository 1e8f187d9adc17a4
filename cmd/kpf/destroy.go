package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

func (a *app) destroyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "destroy [NAME...]",
		Short: "Stop this workspace's forwards (all, or the named ones)",
		Long: `destroy stops the forwards kpf started for this workspace and forgets them.
It reads only the state, not the spec, so it works while the spec has errors.
A process is signalled only if it is still the one kpf started.`,
		Example: `  kpf destroy
  kpf destroy api db`,
		RunE: func(cmd *cobra.Command, names []string) error {
			return a.destroy(cmd.Context(), cmd.OutOrStdout(), names)
		},
	}
	return cmd
}

func (a *app) destroy(ctx context.Context, out io.Writer, names []string) error {
	store, err := a.workspaceStore()
	if err != nil {
		return err
	}
	unlock, err := a.lock(ctx, store)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := store.Load()
	if err != nil {
		return err
	}
	rt := a.runtimeFor(store)
	a.sweep(ctx, rt, st)
	defer a.stopIdleAgent(ctx, store) // before unlock
	selected := slices.Sorted(maps.Keys(st.Forwards))
	if len(names) > 0 {
		var unknown []string
		for _, n := range names {
			if _, ok := st.Forwards[n]; !ok {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("no running forward named %s in this workspace", strings.Join(unknown, ", "))
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
		Progress:    out,
		MaxParallel: spec.DefaultMaxParallel,
	}
	res := applier.Apply(ctx, p)
	if res.Failed > 0 {
		fmt.Fprintf(out, "Destroy finished with errors: %d stopped, %d failed.\n", len(selected)-res.Failed, res.Failed)
		a.exit = exitError
		return nil
	}
	fmt.Fprintf(out, "Destroy complete: %d stopped.\n", len(selected))
	return nil
}

// stopIdleAgent makes the workspace's agent exit now if destroy (or its
// sweep) left it no forward, rather than after its idle exit. The caller
// holds the workspace lock.
func (a *app) stopIdleAgent(ctx context.Context, store *state.Store) {
	n, ok := a.runtimes(store).Runtimes[native.Name].(*native.Runtime)
	if !ok {
		return
	}
	if err := n.StopIdleAgent(ctx); err != nil {
		a.log.Warn("stopping the idle agent", "error", err)
	}
}
