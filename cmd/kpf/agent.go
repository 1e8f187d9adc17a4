package main

import (
	"fmt"
	"path/filepath"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime/native"
)

type agentOptions struct {
	StateDir string
}

// agentCommand runs the workspace's agent: the background kpf process that
// serves the workspace's native forwards. `kpf apply` starts it; users
// never need to.
func (a *app) agentCommand() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:    "agent --state-dir DIR",
		Short:  "Serve a workspace's native forwards (started by kpf apply)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.StateDir == "" {
				return fmt.Errorf("--state-dir is required")
			}
			return a.agent(cmd, o)
		},
	}
	cmd.Flags().StringVar(&o.StateDir, "state-dir", "", "the workspace's state `directory`")
	return cmd
}

func (a *app) agent(cmd *cobra.Command, o agentOptions) error {
	if a.getenv("GOGC") == "" {
		debug.SetGCPercent(100) // main raised it for short-lived commands
	}
	logs := filepath.Join(o.StateDir, "logs")
	if err := safefs.MkdirAll(logs, 0o700); err != nil {
		return fmt.Errorf("creating the agent's log directory: %w", err)
	}
	w, err := native.OpenRotating(filepath.Join(logs, "agent.log"), native.MaxAgentLog)
	if err != nil {
		return err
	}
	defer w.Close()
	log := hclog.New(&hclog.LoggerOptions{
		Name:   "kpf-agent",
		Level:  hclog.LevelFromString(a.opts.LogLevel),
		Output: w,
		Color:  hclog.ColorOff,
	})
	if lvl := hclog.LevelFromString(a.opts.LogLevel); lvl == hclog.NoLevel || lvl > hclog.Info {
		log.SetLevel(hclog.Info) // the agent's log is where users look: keep its lifecycle
	}
	return native.Serve(cmd.Context(), native.AgentOptions{StateDir: o.StateDir, Version: versionString(), Log: log})
}
