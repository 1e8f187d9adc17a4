package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/go-logr/logr"
	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/native"
)

type agentOptions struct {
	StateDir string
	// Serve, and the flags below, are set by the agent's supervisor on
	// the serving agent it starts (native.Supervise).
	Serve        bool
	Kept         int // forward listeners passed on (-1: no keeper link)
	Instance     string
	Supervisor   int
	Restarts     int
	RestartCause string
}

// agentCommand runs the workspace's agent: the background kpf process that
// serves the workspace's native forwards. `kpf apply` starts it; users
// never need to. Where the OS allows, it is the supervisor of a serving
// agent (`kpf agent --serve`, on the socket it inherits) that it starts
// again when it dies.
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
	f := cmd.Flags()
	f.StringVar(&o.StateDir, "state-dir", "", "the workspace's state `directory`")
	f.BoolVar(&o.Serve, "serve", false, "serve on the socket inherited from the supervisor (descriptor 3)")
	f.IntVar(&o.Kept, "kept-listeners", -1, "how many forward listeners the supervisor passes on (descriptors 5 onwards)")
	f.StringVar(&o.Instance, "instance", "", "the agent instance (set by the supervisor)")
	f.IntVar(&o.Supervisor, "supervisor", 0, "the supervisor's pid")
	f.IntVar(&o.Restarts, "restarts", 0, "how many serving agents the supervisor started before this one")
	f.StringVar(&o.RestartCause, "restart-cause", "", "why the last serving agent ended")
	return cmd
}

func (a *app) agent(cmd *cobra.Command, o agentOptions) error {
	if a.getenv("GOGC") == "" {
		debug.SetGCPercent(100) // main raised it for short-lived commands
	}
	supervise := !o.Serve && native.CanSupervise
	name := "agent"
	if supervise {
		name = "supervisor"
	}
	log, scrub, closeLog, err := a.agentLog(o.StateDir, name)
	if err != nil {
		return err
	}
	defer closeLog()
	if supervise {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding kpf's executable for the serving agent: %w", err)
		}
		return native.Supervise(cmd.Context(), native.SuperviseOptions{
			StateDir: o.StateDir, Log: log, Executable: exe, Args: os.Args[1:],
		})
	}
	opts := native.AgentOptions{
		StateDir: o.StateDir, Version: versionString(), Log: log, Scrubber: scrub,
		Instance: o.Instance, Supervisor: o.Supervisor, Restarts: o.Restarts, RestartCause: o.RestartCause,
	}
	if o.Serve {
		if opts.Listener, err = native.InheritedListener(); err != nil {
			return err
		}
		if opts.Kept, err = native.InheritedKept(o.Kept, log); err != nil {
			return err
		}
	}
	return native.Serve(cmd.Context(), opts)
}

// agentLog opens logs/NAME.log in the state directory, at Info or finer:
// the agent's log is where users look, so it keeps its lifecycle. Every
// line goes through the scrubber the agent adds its forwards' sensitive
// values to, client-go's (klog) included: left to itself klog writes to
// stderr (agent.out). closeLog writes a last partial line and closes.
func (a *app) agentLog(stateDir, name string) (log hclog.Logger, scrub *redact.Scrubber, closeLog func(), err error) {
	logs := filepath.Join(stateDir, "logs")
	if err := safefs.MkdirAll(logs, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("creating the agent's log directory: %w", err)
	}
	w, err := native.OpenRotating(filepath.Join(logs, name+".log"), native.MaxAgentLog)
	if err != nil {
		return nil, nil, nil, err
	}
	scrub = redact.New()
	sw := scrub.Writer(w)
	klog.SetLoggerWithOptions(logr.Discard(), klog.WriteKlogBuffer(func(b []byte) {
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		_, _ = sw.Write(b)
	}))
	log = hclog.New(&hclog.LoggerOptions{
		Name:   "kpf-" + name,
		Level:  hclog.LevelFromString(a.opts.LogLevel),
		Output: sw,
		Color:  hclog.ColorOff,
	})
	if lvl := hclog.LevelFromString(a.opts.LogLevel); lvl == hclog.NoLevel || lvl > hclog.Info {
		log.SetLevel(hclog.Info)
	}
	return log, scrub, func() { _ = sw.Flush(); _ = w.Close() }, nil
}

// logFilterCommand is the kubectl runtime's log filter: kubectl's output
// on stdin, the log's path as the argument (kubectl.ScrubLog).
func (a *app) logFilterCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "kubectl-log-filter LOG",
		Short:  "Append kubectl's output to a forward's log, scrubbed of sensitive values (started by kpf)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return kubectl.ScrubLog(args[0], os.Stdin)
		},
	}
}
