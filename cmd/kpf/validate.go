package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/termtext"
)

func (a *app) validateCommand() *cobra.Command {
	var skipContexts bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the spec without touching a cluster",
		Long: `validate loads every spec file of the workspace, evaluates variables, locals
and functions, and makes every check that needs no cluster: unique names,
unique local ports per address, port ranges, target syntax, IP literals,
durations, and output blocks (references to undeclared forwards, attributes
or outputs, cycles, type errors). Errors carry file:line:col.

When a kubeconfig is at hand (--kubeconfig, $KUBECONFIG or ~/.kube/config),
validate also checks that every enabled forward's context is in it (reading
the file only: no cluster is contacted); without one, or with
--skip-contexts (a CI machine whose kubeconfig is not the developers'), it
says that contexts were not checked.`,
		Example: `  kpf validate
  kpf -C examples/basic validate --var context=kind-dev
  kpf validate --skip-contexts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.loadSpec()
			if err != nil {
				return err
			}
			contexts := "contexts checked against the kubeconfig"
			if why := a.kubeconfigProblem(); skipContexts || why != "" {
				if skipContexts {
					why = "--skip-contexts"
				}
				contexts = "contexts not checked: " + why
			} else {
				_, bad, err := a.newContextResolver().resolveEach(cmd.Context(), ws.Forwards)
				if err != nil {
					return err
				}
				for _, e := range bad {
					fmt.Fprintf(a.io.Err, "Error: %s\n", termtext.Escape(a.scrub.Scrub(e.Error)))
				}
				if len(bad) > 0 {
					return errReported
				}
			}
			outputs := ""
			if n := a.outputs.Len(); n > 0 {
				outputs = fmt.Sprintf(" and %d outputs", n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "The spec is valid: %d forwards (%d enabled)%s in %s; %s.\n",
				len(ws.Forwards), countEnabled(ws.Forwards), outputs, strings.Join(ws.Files, ", "), contexts)
			return nil
		},
	}
	cmd.Flags().BoolVar(&skipContexts, "skip-contexts", false, "do not check the forwards' contexts against the kubeconfig")
	return cmd
}
