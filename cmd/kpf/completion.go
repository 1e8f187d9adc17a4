package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
)

func (a *app) completionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `completion prints a script that makes your shell complete kpf's commands,
flags, the forward names of the workspace (logs, open, destroy, apply --only)
and the kubeconfig's contexts (init --context).`,
		Example: `  source <(kpf completion bash)                 # bash, this shell
  kpf completion bash > /etc/bash_completion.d/kpf
  kpf completion zsh > "${fpath[1]}/_kpf"       # zsh
  kpf completion fish > ~/.config/fish/completions/kpf.fish
  kpf completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("completion needs one shell: bash, zsh, fish or powershell")
			}
			if !slices.Contains(cmd.ValidArgs, args[0]) {
				return fmt.Errorf("invalid argument %q: completion knows bash, zsh, fish and powershell", args[0])
			}
			return nil
		},
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			default:
				return root.GenPowerShellCompletionWithDesc(out)
			}
		},
	}
}

// registerCompletions teaches the commands what their arguments and flags
// complete to: forward names for logs, open, destroy and apply --only,
// contexts for --context.
func (a *app) registerCompletions(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "logs", "open":
			c.ValidArgsFunction = a.completeForwards(1)
		case "destroy":
			c.ValidArgsFunction = a.completeForwards(-1)
		case "apply":
			_ = c.RegisterFlagCompletionFunc("only", a.completeForwards(-1))
		}
		if c.Flags().Lookup("context") != nil {
			_ = c.RegisterFlagCompletionFunc("context", a.completeContexts)
		}
	}
}

// completeForwards completes the workspace's forward names (at most max
// arguments, -1 for any number): those of the spec, described by their
// target, and those the state still runs. A spec with errors, or no state,
// completes what the other has; names already given are left out.
func (a *app) completeForwards(maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs >= 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if a.log == nil { // __complete may skip setup
			a.log = hclog.NewNullLogger()
		}
		described := map[string]string{}
		if ws, _, _, err := a.loadSpecQuietly(); err == nil && ws != nil {
			for _, f := range ws.Forwards {
				described[f.Name] = f.Target.String()
				if len(f.Selector) > 0 {
					described[f.Name] = "pod with " + reconcile.FormatSelector(f.Selector)
				}
			}
		}
		if store, err := a.workspaceView(); err == nil {
			if st, err := store.Load(); err == nil {
				for name := range st.Forwards {
					if _, ok := described[name]; !ok {
						described[name] = "running, not in the spec"
					}
				}
			}
		}
		var out []cobra.Completion
		for _, name := range slices.Sorted(maps.Keys(described)) {
			if strings.HasPrefix(name, toComplete) && !slices.Contains(args, name) {
				out = append(out, cobra.CompletionWithDesc(name, described[name]))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeContexts completes the kubeconfig's contexts.
func (a *app) completeContexts(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	names, err := a.kubeContexts(cmd.Context())
	if err != nil {
		cobra.CompDebugln(fmt.Sprintf("reading the kubeconfig's contexts: %v", err), true)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// kubeContexts lists the kubeconfig's contexts, sorted (read in-process).
func (a *app) kubeContexts(_ context.Context) ([]string, error) {
	kc, err := kubeconfig.Load(a.kubeconfigSource())
	if err != nil {
		return nil, err
	}
	return kc.Contexts(), nil
}
