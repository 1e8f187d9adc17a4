package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/runtime"
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
				return bashCompletion(root, out)
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

// cobraInitCompletion is the word splitting of cobra's bash script when
// bash-completion's _init_completion is missing: it still calls that
// package's _get_comp_words_by_ref ("command not found" on every TAB).
const cobraInitCompletion = `__kpf_init_completion()
{
    COMPREPLY=()
    _get_comp_words_by_ref "$@" cur prev words cword
}`

// ownInitCompletion uses bash-completion's _get_comp_words_by_ref when it
// is loaded, else splits the words itself, as _get_comp_words_by_ref -n =:
// does: a word bash split at "=" or ":" (COMP_WORDBREAKS) is joined again.
const ownInitCompletion = `__kpf_init_completion()
{
    COMPREPLY=()
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref "$@" cur prev words cword
        return
    fi
    # Without the bash-completion package (kpf's own fallback).
    local i w
    words=()
    cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((i > 0 && ${#words[@]} > 0)) && [[ $w == [=:]* || ${words[${#words[@]}-1]} == *[=:] ]]; then
            words[${#words[@]}-1]+=$w
        else
            words+=("$w")
        fi
        if ((i == COMP_CWORD)); then
            cword=$((${#words[@]} - 1))
        fi
    done
    cur=${words[cword]}
    prev=${words[cword-1]}
}`

// bashCompletion is cobra's bash completion (V2) with a word splitting
// that needs no bash-completion package.
func bashCompletion(root *cobra.Command, out io.Writer) error {
	var b strings.Builder
	if err := root.GenBashCompletionV2(&b, true); err != nil {
		return err
	}
	script := b.String()
	if !strings.Contains(script, cobraInitCompletion) {
		return errors.New("cobra's bash completion script changed: kpf cannot give it its own word splitting")
	}
	_, err := io.WriteString(out, strings.Replace(script, cobraInitCompletion, ownInitCompletion, 1))
	return err
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
					described[f.Name] = "pod with " + runtime.FormatSelector(f.Selector)
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

// completeOutputNames completes the spec's output names (one argument),
// described by their description.
func (a *app) completeOutputNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) >= 1 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.outputCompletions(args, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeEnvNames completes kpf env's arguments: output and forward names.
func (a *app) completeEnvNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := a.outputCompletions(args, toComplete)
	fw, _ := a.completeForwards(-1)(cmd, args, toComplete)
	return append(out, fw...), cobra.ShellCompDirectiveNoFileComp
}

func (a *app) outputCompletions(args []string, toComplete string) []cobra.Completion {
	if a.log == nil { // __complete may skip setup
		a.log = hclog.NewNullLogger()
	}
	ws, _, _, err := a.loadSpecQuietly()
	if err != nil || ws == nil {
		return nil
	}
	var out []cobra.Completion
	for _, o := range a.outputs.Eval(nil) {
		if strings.HasPrefix(o.Name, toComplete) && !slices.Contains(args, o.Name) {
			desc := o.Description
			if desc == "" {
				desc = "output"
			}
			out = append(out, cobra.CompletionWithDesc(o.Name, desc))
		}
	}
	return out
}
