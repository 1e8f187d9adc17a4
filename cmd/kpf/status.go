package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/state"
)

type statusOptions struct {
	JSON  bool
	All   bool
	Stats bool
}

func (a *app) statusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the forwards: address, target, state, health, uptime, restarts, last error",
		Long: `status observes every forward of the workspace now: whether its process is
alive and still the one kpf started, and what a health probe sees. It changes
nothing and takes no lock.`,
		Example: `  kpf status
  kpf status --json
  kpf status --all      # every workspace kpf has state for
  kpf status --stats    # probe cache and timing figures`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.All {
				return a.statusAll(cmd.Context(), cmd.OutOrStdout(), o)
			}
			return a.status(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.All, "all", false, "show every workspace that has state, not only this one")
	cmd.Flags().BoolVar(&o.Stats, "stats", false, "also show probe-cache hits and misses and timings")
	return cmd
}

// statusStats are the figures --stats shows.
type statusStats struct {
	SpecLoad     string `json:"spec_load"`
	Observe      string `json:"observe"`
	ProbeHits    uint64 `json:"probe_cache_hits"`
	ProbeMisses  uint64 `json:"probe_cache_misses"`
	Forwards     int    `json:"forwards"`
	StateForward int    `json:"state_forwards"`
}

func (a *app) status(ctx context.Context, out io.Writer, o statusOptions) error {
	t0 := time.Now()
	s, err := a.openSession(ctx)
	if err != nil {
		return err
	}
	loaded := time.Now()
	actual := s.observe(ctx)
	observed := time.Now()
	rows := reconcile.StatusRows(s.forwards, actual, time.Now())
	st := s.ports.Stats()
	stats := statusStats{
		SpecLoad:     loaded.Sub(t0).Round(time.Microsecond).String(),
		Observe:      observed.Sub(loaded).Round(time.Microsecond).String(),
		ProbeHits:    st.Hits,
		ProbeMisses:  st.Misses,
		Forwards:     len(s.forwards),
		StateForward: len(s.state.Forwards),
	}
	if o.JSON {
		if !o.Stats {
			return reconcile.RenderStatusJSON(out, rows)
		}
		return reconcile.RenderStatusJSONWithStats(out, rows, stats)
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "No forwards in the spec or the state.")
	} else if err := reconcile.RenderStatusTable(out, rows, a.color(out)); err != nil {
		return err
	}
	if o.Stats {
		fmt.Fprintf(out, "\nspec load %s, observe %s, probe cache %d hits / %d misses\n",
			stats.SpecLoad, stats.Observe, stats.ProbeHits, stats.ProbeMisses)
	}
	return nil
}

// statusAll lists every workspace kpf has state for, from the state alone
// plus process checks: other workspaces' specs are not loaded.
func (a *app) statusAll(ctx context.Context, out io.Writer, o statusOptions) error {
	root, err := state.Root(a.getenv)
	if err != nil {
		return err
	}
	files, err := state.List(root)
	if err != nil {
		return err
	}
	type row struct {
		Workspace string `json:"workspace"`
		Path      string `json:"path"`
		Name      string `json:"name"`
		Local     string `json:"local"`
		Target    string `json:"target"`
		Context   string `json:"context"`
		Namespace string `json:"namespace"`
		State     string `json:"state"`
		Uptime    string `json:"uptime,omitempty"`
		Restarts  int    `json:"restarts"`
		LastError string `json:"last_error,omitempty"`
	}
	var rows []row
	for _, f := range files {
		for _, name := range slices.Sorted(maps.Keys(f.Forwards)) {
			fw := f.Forwards[name]
			r := row{
				Workspace: f.Name, Path: f.Workspace, Name: name,
				Local:  net.JoinHostPort(fw.Address, strconv.Itoa(fw.LocalPort)),
				Target: targetOf(fw), Context: fw.Context, Namespace: fw.Namespace,
				State: reconcile.StatusFailed, Restarts: fw.Restarts, LastError: fw.LastError,
			}
			if !fw.Handle.IsZero() {
				st, err := a.inspectIn(ctx, f, fw.Handle)
				if err == nil && st.Alive {
					r.State = reconcile.StatusRunning
					r.Uptime = reconcile.FormatUptime(time.Since(fw.StartedAt))
				} else {
					r.State = reconcile.StatusExited
					if st.LastError != "" {
						r.LastError = st.LastError
					}
				}
			}
			rows = append(rows, r)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []row{}
		}
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "No workspace has forwards.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tNAME\tLOCAL\tTARGET\tCONTEXT/NAMESPACE\tSTATE\tUPTIME\tRESTARTS\tLAST ERROR")
	for _, r := range rows {
		e := termtext.Escape
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t%d\t%s\n", e(r.Workspace), e(r.Name), e(r.Local), e(r.Target),
			e(r.Context), e(r.Namespace), e(r.State), dash(r.Uptime), r.Restarts, e(dash(r.LastError)))
	}
	return tw.Flush()
}

func targetOf(fw state.Forward) string {
	if fw.Target != "" {
		return fw.Target
	}
	return "selector " + reconcile.FormatSelector(fw.Selector)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// inspectIn inspects a forward of the workspace f with that workspace's
// runtime (its state directory names its logs).
func (a *app) inspectIn(ctx context.Context, f *state.File, h runtime.Handle) (runtime.Status, error) {
	dir, err := state.Dir(a.getenv, f.Workspace)
	if err != nil {
		return runtime.Unknown(), err
	}
	store, err := state.Open(dir)
	if err != nil {
		return runtime.Unknown(), err
	}
	return a.runtimeFor(store).Inspect(ctx, h)
}
