package main

import (
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/spec"
)

func (a *app) fmtCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt",
		Short: "Rewrite the spec files in the canonical format",
		Example: `  kpf fmt
  kpf fmt --check   # exit 1 and list the files that are not formatted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			changed, err := spec.FormatDir(dir, check, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if check && len(changed) > 0 {
				a.exit = exitError
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only list the files that are not formatted; exit 1 if any")
	return cmd
}
