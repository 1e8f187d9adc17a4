package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/go-logr/logr"
	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/kpf-dev/kpf/internal/redact"
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
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return fmt.Errorf("creating the agent's log directory: %w", err)
	}
	w, err := native.OpenRotating(filepath.Join(logs, "agent.log"), native.MaxAgentLog)
	if err != nil {
		return err
	}
	defer w.Close()
	log, scrub, flush := a.agentLog(w)
	defer flush()
	return native.Serve(cmd.Context(), native.AgentOptions{StateDir: o.StateDir, Version: versionString(), Log: log, Scrubber: scrub})
}

// agentLog is the agent's logger, writing to w. Every line goes through
// the scrubber the agent adds its forwards' sensitive values to,
// client-go's (klog) included: left to itself klog writes to stderr
// (agent.out). flush writes a last partial line.
func (a *app) agentLog(w io.Writer) (log hclog.Logger, scrub *redact.Scrubber, flush func()) {
	scrub = redact.New()
	sw := scrub.Writer(w)
	klog.SetLoggerWithOptions(logr.Discard(), klog.WriteKlogBuffer(func(b []byte) {
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		_, _ = sw.Write(b)
	}))
	log = hclog.New(&hclog.LoggerOptions{
		Name:   "kpf-agent",
		Level:  hclog.LevelFromString(a.opts.LogLevel),
		Output: sw,
		Color:  hclog.ColorOff,
	})
	if lvl := hclog.LevelFromString(a.opts.LogLevel); lvl == hclog.NoLevel || lvl > hclog.Info {
		log.SetLevel(hclog.Info) // the agent's log is where users look: keep its lifecycle
	}
	return log, scrub, func() { _ = sw.Flush() }
}
