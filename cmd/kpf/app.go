package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/reconcile/ports"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // plan --detailed-exitcode: there are changes
)

// lockWait is how long a command that changes state waits for another
// kpf holding the workspace lock.
const lockWait = 10 * time.Second

// streams are the command's I/O, injected so tests never touch os.Std*.
type streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	Dir        string
	Kubeconfig string
	Vars       []string
	VarFiles   []string
	LogLevel   string
	NoColor    bool
	CPUProfile string
	MemProfile string
	PprofAddr  string
	// PprofAnyAddr allows --pprof on an address that is not loopback.
	PprofAnyAddr bool
}

// app carries what every command needs; one per run.
type app struct {
	opts   globalOptions
	io     streams
	getenv func(string) string
	log    hclog.Logger
	// logOut is where log lines go: stderr, or a file while the live view
	// owns the terminal.
	logOut *swapWriter
	// scrub holds the values from sensitive variables of every spec and
	// state this run read (hide); the log, errors and logs go through it.
	scrub *redact.Scrubber
	// exit is the code the command asks for when it did not fail outright.
	exit int
	// plugin: run as kubectl-kpf, so usage and examples say `kubectl kpf`.
	plugin bool
	// outputs are the output blocks of the last spec that loaded.
	outputs *spec.Outputs
	// passSignals: kpf run's child runs; SIGINT and SIGTERM go to it, not
	// to kpf's own interrupt handling.
	passSignals atomic.Bool
	// stopInterrupt ends the interrupt handling setup started; nil when
	// the command has none (noInterrupt).
	stopInterrupt func()

	cpuFile  *os.File
	pprofSrv *http.Server
	// hostsHinted: this run said once why the hosts file was not written.
	hostsHinted bool
}

// exitCodeError carries an exit code through cobra without printing again.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errReported means the error was already shown to the user.
var errReported = errors.New("reported")

// noInterrupt is the annotation of a command that never waits on anything
// (`kpf version`): it runs without kpf's interrupt handling, so SIGINT ends
// it as it ends any program. Handling signals starts os/signal's receiver,
// on a thread of its own, which was ~0.7 ms of `kpf version`'s ~20 ms on a
// 2-core machine (issue 20 point 11, docs/performance.md).
const noInterrupt = "kpf.noInterrupt"

func run(ctx context.Context, args []string, io streams, getenv func(string) string) int {
	return runAs(ctx, "kpf", args, io, getenv)
}

// runAs runs kpf invoked under the program name argv0 (os.Args[0]): as
// kubectl-kpf, a kubectl plugin (`kubectl kpf ...`; krew installs it so).
func runAs(ctx context.Context, argv0 string, args []string, io streams, getenv func(string) string) int {
	a := &app{io: io, getenv: getenv, scrub: redact.New(), plugin: isPluginName(argv0)}
	root := a.rootCommandFor(args)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	defer func() {
		if a.stopInterrupt != nil {
			a.stopInterrupt()
		}
	}()

	err := root.ExecuteContext(ctx)
	if perr := a.teardownProfiles(); perr != nil && err == nil {
		err = perr
	}
	var ec exitCodeError
	switch {
	case err == nil:
		return a.exit
	case errors.As(err, &ec):
		return ec.code
	case errors.Is(err, errReported):
		return exitError
	default:
		fmt.Fprintf(io.Err, "Error: %s\n", termtext.EscapeText(a.scrub.Scrub(err.Error())))
		return exitError
	}
}

// interruptContext cancels on the first SIGINT/SIGTERM so commands drain;
// a second one exits at once.
// While pass is set (kpf run's child runs), signals are left to whoever
// else listens for them.
func interruptContext(parent context.Context, errw io.Writer, pass *atomic.Bool) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	next := func() bool {
		for {
			select {
			case <-ch:
				if pass == nil || !pass.Load() {
					return true
				}
			case <-done:
				return false
			}
		}
	}
	go func() {
		if !next() {
			return
		}
		cancel()
		if next() {
			fmt.Fprintln(errw, "\nInterrupted twice: exiting now.")
			os.Exit(130)
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// commands are kpf's commands by name, in the order the tree adds them
// (rootCommand). A command that only some builds have is in
// buildTagCommands.
var commands = []struct {
	name  string
	build func(*app) *cobra.Command
}{
	{"plan", (*app).planCommand},
	{"apply", (*app).applyCommand},
	{"status", (*app).statusCommand},
	{"destroy", (*app).destroyCommand},
	{"logs", (*app).logsCommand},
	{"validate", (*app).validateCommand},
	{"fmt", (*app).fmtCommand},
	{"init", (*app).initCommand},
	{"open", (*app).openCommand},
	{"output", (*app).outputCommand},
	{"env", (*app).envCommand},
	{"run", (*app).runCommand},
	{"version", (*app).versionCommand},
	{"completion", (*app).completionCommand},
	{"agent", (*app).agentCommand},
	{"kubectl-log-filter", (*app).logFilterCommand},
	{"hosts", (*app).hostsCommand},
}

// rootCommandFor is the command tree a run with args needs: when args
// start with the name of one of kpf's commands and ask for no help, the
// root and that command alone, whose own flags, output and errors do not
// depend on its siblings; otherwise (flags first, help, completion's
// __complete, an unknown or mistyped command) the whole tree of
// rootCommand. Building every command and its flags was ~0.3 ms of each
// start (issue 20 point 11).
func (a *app) rootCommandFor(args []string) *cobra.Command {
	if len(args) == 0 {
		return a.rootCommand()
	}
	for _, arg := range args {
		if arg == "-h" || arg == "--help" {
			return a.rootCommand()
		}
	}
	for _, c := range commands {
		if c.name == args[0] {
			return a.newRoot(c.build(a))
		}
	}
	return a.rootCommand()
}

// rootCommand is the whole command tree: kpf and every command.
func (a *app) rootCommand() *cobra.Command {
	cmds := make([]*cobra.Command, 0, len(commands)+len(buildTagCommands))
	for _, c := range commands {
		cmds = append(cmds, c.build(a))
	}
	for _, c := range buildTagCommands {
		cmds = append(cmds, c(a))
	}
	return a.newRoot(cmds...)
}

// newRoot is the kpf command, its global flags and cmds under it.
func (a *app) newRoot(cmds ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "kpf",
		Short: "Keep Kubernetes port-forwards alive, declared in HCL",
		Long: `kpf keeps a set of Kubernetes port-forwards alive from HCL files kept in your
repository (kpf.hcl, *.kpf.hcl, and personal *.override.kpf.hcl).

  kpf plan            show how the spec differs from what is running
  kpf apply           make it so; forwards keep running after kpf exits
  kpf apply --watch   keep it so: restart what dies, follow spec edits
  kpf status          what is running, its health, uptime and restarts
  kpf destroy         stop this workspace's forwards`,
		Example: `  kpf init && $EDITOR kpf.hcl
  kpf plan
  kpf apply --watch
  kpf -C ~/src/shop status --json`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.setup,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath())
	})
	f := root.PersistentFlags()
	f.StringVarP(&a.opts.Dir, "dir", "C", ".", "workspace `directory` holding kpf.hcl")
	f.StringVar(&a.opts.Kubeconfig, "kubeconfig", "", "path to the kubeconfig `file` (default: kubectl's, from $KUBECONFIG or ~/.kube/config)")
	f.StringArrayVar(&a.opts.Vars, "var", nil, "set a variable: `name=value` (repeatable)")
	f.StringArrayVar(&a.opts.VarFiles, "var-file", nil, "read variables from an HCL `file` (repeatable)")
	f.StringVar(&a.opts.LogLevel, "log-level", "warn", "log `level` on stderr: trace, debug, info, warn, error, off")
	f.BoolVar(&a.opts.NoColor, "no-color", false, "never colour the output")
	f.StringVar(&a.opts.CPUProfile, "cpuprofile", "", "write a CPU profile to `file`")
	f.StringVar(&a.opts.MemProfile, "memprofile", "", "write a heap profile to `file` on exit")
	f.StringVar(&a.opts.PprofAddr, "pprof", "", "serve net/http/pprof on `addr` (\":6060\" is 127.0.0.1:6060; loopback only unless --pprof-any-address)")
	f.BoolVar(&a.opts.PprofAnyAddr, "pprof-any-address", false, "allow --pprof on an address that is not loopback (anyone who reaches it can profile kpf)")

	root.AddCommand(cmds...)
	a.registerCompletions(root)
	if a.plugin {
		asPlugin(root)
	}
	return root
}

// buildTagCommands are commands that only some builds have: the release
// documentation generator (gendocs.go, -tags releasedocs) stays out of the
// binary users install.
var buildTagCommands []func(*app) *cobra.Command

// setup runs before every command: logging and profiling.
func (a *app) setup(cmd *cobra.Command, _ []string) error {
	if cmd.Annotations[noInterrupt] == "" {
		ctx, stop := interruptContext(cmd.Context(), a.io.Err, &a.passSignals)
		cmd.SetContext(ctx)
		a.stopInterrupt = stop
	}
	level := hclog.LevelFromString(a.opts.LogLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("unknown --log-level %q (want trace, debug, info, warn, error or off)", a.opts.LogLevel)
	}
	a.logOut = &swapWriter{w: a.io.Err}
	a.log = hclog.New(&hclog.LoggerOptions{
		Name:   "kpf",
		Level:  level,
		Output: a.scrub.Writer(a.logOut),
		Color:  hclog.ColorOff,
	})
	return a.startProfiles()
}

// color reports whether w is a terminal and colour is allowed.
func (a *app) color(w io.Writer) bool {
	if a.opts.NoColor || a.getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// workspaceDir is the absolute workspace directory, symbolic links
// resolved: a workspace reached through a link is the same workspace.
func (a *app) workspaceDir() (string, error) {
	return state.CanonicalPath(a.opts.Dir)
}

// loadSpec loads and validates the workspace; diagnostics are rendered here
// and errReported returned when there are errors.
func (a *app) loadSpec() (*spec.Workspace, error) {
	ws, loader, diags, err := a.loadSpecQuietly()
	if err != nil {
		return nil, err
	}
	if len(diags) > 0 {
		a.writeDiagnostics(loader, diags)
	}
	if diags.HasErrors() {
		return nil, errReported
	}
	return ws, nil
}

// loadSpecQuietly loads the workspace and returns its diagnostics
// unrendered, with the loader that can render them.
func (a *app) loadSpecQuietly() (*spec.Workspace, *spec.Loader, hcl.Diagnostics, error) {
	dir, err := a.workspaceDir()
	if err != nil {
		return nil, nil, nil, err
	}
	start := time.Now()
	loader := spec.NewLoader()
	ws, diags := loader.Load(spec.LoadOptions{
		Dir:      dir,
		Env:      a.getenv,
		VarFiles: a.opts.VarFiles,
		Vars:     a.opts.Vars,
	})
	a.log.Debug("spec loaded", "dir", dir, "duration", time.Since(start), "diagnostics", len(diags))
	if ws != nil {
		a.hide(ws.Forwards, nil)
		a.outputs = loader.Outputs()
	}
	return ws, loader, diags, nil
}

// hide makes the run's log, errors and logs scrub the values from
// sensitive variables of forwards and st (either may be nil).
func (a *app) hide(forwards []spec.Forward, st *state.File) {
	if a.scrub == nil {
		a.scrub = redact.New()
	}
	a.scrub.Add(reconcile.SensitiveValues(forwards, st)...)
}

// runtimeFor is the one place that chooses how forwards run: it returns
// the runtime of the workspace whose state is in store, a Mux of every
// runtime this kpf has, so that a forward is always stopped by the runtime
// that started it (a workspace can hold both during a migration).
func (a *app) runtimeFor(store *state.Store) runtime.Runtime {
	return a.runtimes(store)
}

// defaultRuntime runs the forwards whose spec names no runtime.
const defaultRuntime = native.Name

// logFilter is the argv of the kubectl runtime's log filter: this kpf
// (or KPF_AGENT_EXECUTABLE) as `kpf kubectl-log-filter`.
func (a *app) logFilter() []string {
	exe := a.getenv("KPF_AGENT_EXECUTABLE")
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil // kubectl then writes its log itself
		}
	}
	return []string{exe, "kubectl-log-filter"}
}

// runtimes builds the Mux of every runtime this kpf has.
func (a *app) runtimes(store *state.Store) *runtime.Mux {
	bin := a.getenv("KPF_KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	return &runtime.Mux{
		Default: defaultRuntime,
		Runtimes: map[string]runtime.Runtime{
			kubectl.Name: &kubectl.Runtime{Kubectl: bin, Log: a.log.Named("kubectl"), LogPath: store.LogPath, Workspace: store.Dir(), Filter: a.logFilter()},
			native.Name: &native.Runtime{
				StateDir:   store.Dir(),
				Executable: a.getenv("KPF_AGENT_EXECUTABLE"),
				AgentArgs:  []string{"--log-level", a.opts.LogLevel},
				Version:    versionString(),
				Kubeconfig: a.kubeconfigSource(),
				Log:        a.log.Named("native"),
			},
		},
	}
}

// workspaceStore opens the state folder of the -C workspace, without
// loading its spec (destroy and logs work while the spec has errors).
func (a *app) workspaceStore() (*state.Store, error) {
	dir, err := a.workspaceDir()
	if err != nil {
		return nil, err
	}
	return a.store(dir)
}

// store opens this workspace's state folder.
func (a *app) store(dir string) (*state.Store, error) {
	sdir, err := state.Dir(a.getenv, dir)
	if err != nil {
		return nil, err
	}
	return state.Open(sdir)
}

// workspaceView is workspaceStore for commands that change nothing.
func (a *app) workspaceView() (*state.Store, error) {
	dir, err := a.workspaceDir()
	if err != nil {
		return nil, err
	}
	return a.view(dir)
}

// view opens this workspace's state folder read-only: nothing is created
// (a workspace never applied reads as no state), nothing is locked.
func (a *app) view(dir string) (*state.Store, error) {
	sdir, err := state.Dir(a.getenv, dir)
	if err != nil {
		return nil, err
	}
	return state.OpenReadOnly(sdir)
}

// session is what plan, apply and watch share: the spec with contexts
// resolved, the state, and the observed world.
type session struct {
	ws       *spec.Workspace
	forwards []spec.Forward // contexts resolved; without the unplannable ones
	// all is every forward of the spec, resolved where its context is known.
	all []spec.Forward
	// unplannable are the enabled forwards whose context the kubeconfig
	// does not have (errors scrubbed): plans leave them as they are.
	unplannable []reconcile.ForwardError
	store       *state.Store
	state       *state.File
	rt          runtime.Runtime
	ports       *ports.Cache
	observer    *reconcile.Observer
	contexts    *contextResolver
}

// openSession loads the spec, resolves contexts and loads state. It does not
// lock; callers that change state lock first. readOnly opens the state
// with view: a session that can change nothing.
func (a *app) openSession(ctx context.Context, readOnly bool) (*session, error) {
	// The kubeconfig is read while the spec loads: neither needs the other.
	contexts := a.newContextResolver()
	contexts.preload()
	ws, err := a.loadSpec()
	if err != nil {
		return nil, err
	}
	return a.sessionWith(ctx, ws, contexts, readOnly)
}

// sessionFor is openSession for a spec already loaded.
func (a *app) sessionFor(ctx context.Context, ws *spec.Workspace, readOnly bool) (*session, error) {
	return a.sessionWith(ctx, ws, a.newContextResolver(), readOnly)
}

// sessionWith is sessionFor with the session's context resolver.
func (a *app) sessionWith(ctx context.Context, ws *spec.Workspace, contexts *contextResolver, readOnly bool) (*session, error) {
	var err error
	s := &session{ws: ws, contexts: contexts}
	if s.all, s.forwards, s.unplannable, err = a.resolveEach(ctx, s.contexts, ws.Forwards); err != nil {
		return nil, err
	}
	open := a.store
	if readOnly {
		open = a.view
	}
	if s.store, err = open(ws.Dir); err != nil {
		return nil, err
	}
	s.rt = a.runtimeFor(s.store)
	for _, fs := range [][]spec.Forward{s.all, s.forwards} {
		for i := range fs {
			if fs[i].Runtime == "" {
				fs[i].Runtime = defaultRuntime
			}
		}
	}
	if s.state, err = s.store.Load(); err != nil {
		return nil, err
	}
	a.hide(nil, s.state)
	if err := a.assignAddresses(ws, s.state, s.all, s.forwards); err != nil {
		return nil, err
	}
	if s.state.Workspace == "" {
		s.state.Workspace = ws.Dir
	}
	s.state.Name = ws.Name
	s.ports = ports.NewCache(ws.Settings.ProbeCacheTTL, nil) // nil: the coarse wall clock
	s.observer = &reconcile.Observer{
		Runtime: s.rt,
		Prober:  &reconcile.NetProber{Timeout: 2 * time.Second},
	}
	return s, nil
}

// observe returns the actual state of the workspace.
func (s *session) observe(ctx context.Context) reconcile.Actual {
	return s.observer.Observe(ctx, s.state, s.forwards)
}

// plan observes and diffs; the forwards that cannot be planned are listed
// as the plan's errors and left as they are.
func (s *session) plan(ctx context.Context) reconcile.Plan {
	p := reconcile.Diff(s.forwards, s.observe(ctx), s.ports)
	p.Fail(s.unplannable)
	p.Workspace = s.ws.Name
	return p
}

// resolveEach resolves the contexts of fs with r: all of them (resolved
// where the context is known), the plannable ones, and the errors of the
// others, scrubbed of sensitive values.
func (a *app) resolveEach(ctx context.Context, r *contextResolver, fs []spec.Forward) (all, ok []spec.Forward, bad []reconcile.ForwardError, err error) {
	all, bad, err = r.resolveEach(ctx, fs)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(bad) == 0 {
		return all, all, nil, nil
	}
	skip := make(map[string]bool, len(bad))
	for i := range bad {
		skip[bad[i].Name] = true
		bad[i].Error = a.scrub.Scrub(bad[i].Error)
	}
	for _, f := range all {
		if !skip[f.Name] {
			ok = append(ok, f)
		}
	}
	return slices.Clip(all), ok, bad, nil
}

// lock takes the workspace lock or fails naming the holder.
func (a *app) lock(ctx context.Context, st *state.Store) (func(), error) {
	return a.lockAs(ctx, st, "")
}

// lockAs is lock that says what holds it (state.HolderWatch for a watch,
// which keeps it until it is quit). Held by this workspace's watch, the
// lock is not waited for, and the error says how to proceed.
func (a *app) lockAs(ctx context.Context, st *state.Store, holder string) (func(), error) {
	unlock, err := st.LockAs(ctx, lockWait, holder)
	var le *state.LockedError
	if errors.As(err, &le) && le.Holder == state.HolderWatch {
		return nil, fmt.Errorf("%w\nThis workspace's own `kpf apply --watch` (pid %d) holds the lock for as long as it runs. "+
			"Quit it (q, or Ctrl-C where it runs; its forwards keep running) and run this again, "+
			"or let the watch do it: it applies every spec edit (enabled = false stops a forward, r in its view restarts one)", err, le.PID)
	}
	if err != nil {
		return nil, err
	}
	return func() {
		if err := unlock(); err != nil {
			a.log.Warn("releasing the workspace lock", "error", err)
		}
	}, nil
}

// writeDiagnostics renders spec diagnostics on stderr: with the source
// snippet on a terminal, one "file:line:col: severity: summary" line each
// otherwise (logs, CI, editors).
func (a *app) writeDiagnostics(loader *spec.Loader, diags hcl.Diagnostics) {
	f, ok := a.io.Err.(*os.File)
	if ok && isatty.IsTerminal(f.Fd()) {
		width := uint(100)
		if c, err := strconv.Atoi(a.getenv("COLUMNS")); err == nil && c > 20 {
			width = uint(c)
		}
		if err := loader.WriteDiagnostics(a.io.Err, diags, a.color(a.io.Err), width); err == nil {
			return
		}
	}
	fmt.Fprint(a.io.Err, spec.FormatDiagnosticsPlain(diags))
}

// lockSession takes the workspace lock for s (lockAs, with holder),
// re-reads the state under it (another kpf may have changed it since the
// session opened) and sweeps. unlock may be called more than once.
func (a *app) lockSession(ctx context.Context, s *session, holder string) (unlock func(), err error) {
	if unlock, err = a.lockAs(ctx, s.store, holder); err != nil {
		return nil, err
	}
	unlock = sync.OnceFunc(unlock)
	if s.state, err = s.store.Load(); err != nil {
		unlock()
		return nil, err
	}
	s.state.Workspace, s.state.Name = s.ws.Dir, s.ws.Name
	a.sweep(ctx, s.rt, s.state)
	return unlock, nil
}

// sweep stops what the workspace's runtimes run that its state does not
// name: forwards left by a kpf killed between starting and recording them.
// The caller holds the workspace lock. Failures are logged: a sweep never
// stops a command.
func (a *app) sweep(ctx context.Context, rt runtime.Runtime, st *state.File) {
	sw, ok := rt.(runtime.Sweeper)
	if !ok {
		return
	}
	keep := make([]runtime.Handle, 0, len(st.Forwards))
	for _, f := range st.Forwards {
		keep = append(keep, f.Handle)
	}
	stopped, err := sw.Sweep(ctx, keep)
	for _, line := range stopped {
		fmt.Fprintf(a.io.Err, "Stopped a forward no state named: %s\n", termtext.Escape(line))
	}
	if err != nil {
		a.log.Warn("looking for forwards no state names", "error", err)
	}
}
