package main

import (
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/views"
)

type planOptions struct {
	JSON             bool
	DetailedExitCode bool
}

func (a *app) planCommand() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show how the spec differs from the forwards that are running",
		Long: `plan loads the spec, observes what is actually running (the agent's report on
its forwards, process checks for those of the kubectl runtime, and cached port
probes) and shows what apply would do: which forwards it would start, stop,
replace (and for which changed attributes) or restart, and which would move to
another local port because theirs is taken. It changes nothing.

A forward that cannot be planned (its context is not in the kubeconfig) is
shown with its error, and the others are planned; plan then exits 1.`,
		Example: `  kpf plan
  kpf plan --json | jq '.changes[] | select(.action != "no-op")'
  kpf plan --detailed-exitcode   # exit 0: no changes, 2: changes, 1: error`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openSession(cmd.Context(), true)
			if err != nil {
				return err
			}
			p := s.plan(cmd.Context())
			a.planOutputs(&p, s.ws, s.state)
			out := cmd.OutOrStdout()
			if err := views.NewPlan(out, o.JSON, a.color(out)).Show(p.Redact()); err != nil {
				return err
			}
			if o.DetailedExitCode && p.HasChanges() {
				a.exit = exitChanges
			}
			if len(p.Errors) > 0 { // planned the rest, but not every forward
				a.exit = exitError
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the plan as JSON (schema: reconcile/JSON.md)")
	cmd.Flags().BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none, 1 on error")
	return cmd
}
