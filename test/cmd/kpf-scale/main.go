//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/state"
	"github.com/kpf-dev/kpf/test/cluster"
	"github.com/kpf-dev/kpf/test/internal/measure"
)

// Environment of the kubectl shim: kpf-scale started as "kubectl" logs its
// argv to spawnLogEnv and execs realKubectlEnv.
const (
	spawnLogEnv    = "KPF_SCALE_SPAWN_LOG"
	realKubectlEnv = "KPF_SCALE_REAL_KUBECTL"
)

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		shim() // never returns
	}
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:], os.Stdin, os.Stdout))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	kpf         string
	kubeconfig  string
	context     string
	namespace   string
	targets     []string // KIND/NAME:PORT
	forwards    int
	deployments int
	basePort    int
	planRuns    int
	idle        time.Duration
	kills       int
	out         string
	logLevel    string
	runtimes    []string      // kubectl, native: measured one after the other
	agentKills  int           // native: kill -9 of the agent under apply --watch
	agentGap    time.Duration // native: between agent kills
	comebacks   int           // native: kill -9 of the serving agent without --watch
	comebackGap time.Duration // native: between those kills
	many        int           // native: idle forwards in one agent (0: skip)
	flood       int           // native: connections opened at once on one forward
	rollout     time.Duration
	rolloutStep time.Duration
	stateRoot   string // state directories under this one, not the scratch directory
	agentLog    string // --log-level of kpf apply, which the agent it starts inherits
	keep        bool   // keep the scratch directory (workspaces, state, agent logs)
	measure     map[string]bool
	// healthBlocks: the spec has health blocks (every forward is then
	// checked, in use or not); false: none (idle forwards are unchecked).
	healthBlocks bool
}

// measures are the parts of a runtime's run, in order (--measure).
var measures = []string{"plan", "apply", "comeback", "watch", "rollout", "many", "flood"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var targets string
	fs := flag.NewFlagSet("kpf-scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kpf, "kpf", "", "kpf binary (default: go build ./cmd/kpf into a temp dir)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "use this running cluster instead of starting one (needs --targets)")
	fs.StringVar(&o.context, "context", cluster.ContextName, "kube context of the forwards")
	fs.StringVar(&o.namespace, "namespace", "scale", "namespace of the targets")
	fs.StringVar(&targets, "targets", "", "with --kubeconfig: comma-separated KIND/NAME:PORT the forwards cycle through")
	fs.IntVar(&o.forwards, "forwards", 100, "number of forwards")
	fs.IntVar(&o.deployments, "deployments", 10, "echo deployments to create in an own cluster")
	fs.IntVar(&o.basePort, "base-port", 23000, "local port of the first forward (below the ephemeral range, where other processes' ports come and go)")
	fs.IntVar(&o.planRuns, "plan-runs", 5, "kpf plan runs (the median is reported)")
	fs.DurationVar(&o.idle, "idle", 60*time.Second, "idle window of the watch measurement")
	fs.IntVar(&o.kills, "kills", 20, "kill -9 recoveries to time")
	fs.StringVar(&o.out, "out", "", "also write the table to this file")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of kpf-scale itself")
	var runtimes string
	fs.StringVar(&o.agentLog, "agent-log-level", "", "run kpf apply (and so the agent it starts, whose log is the state directory's logs/agent.log) with this --log-level, e.g. debug to see where a restore spends its time")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (workspaces, state directories, agent logs) and print its path")
	fs.StringVar(&o.stateRoot, "state-root", "", "put the workspaces' state directories here (e.g. a tmpfs, to see what fsync costs)")
	fs.StringVar(&runtimes, "runtimes", "kubectl,native", "comma-separated runtimes to measure, side by side")
	fs.IntVar(&o.agentKills, "agent-kills", 5, "native: kill -9 of the agent while apply --watch runs")
	fs.DurationVar(&o.agentGap, "agent-kill-gap", 31*time.Second, "native: time between agent kills (above the watch's 30 s healthy reset, each kill is a first death; below it the watch's crash-loop backoff adds up)")
	fs.IntVar(&o.comebacks, "comeback-kills", 5, "native: kill -9 of the serving agent with no watch (its supervisor restarts it)")
	fs.DurationVar(&o.comebackGap, "comeback-gap", 6*time.Second, "native: time between those kills (above 5 s, three never fall within the supervisor's 10 s crash-loop window)")
	fs.IntVar(&o.many, "many", 1000, "native: idle forwards in one agent for the memory figures (0 skips)")
	fs.IntVar(&o.flood, "flood", 10000, "native: connections opened at once on one forward while another is fetched from (0 skips)")
	fs.DurationVar(&o.rollout, "rollout", 20*time.Second, "window of new connections around a rolling restart (own cluster only)")
	fs.DurationVar(&o.rolloutStep, "rollout-every", 20*time.Millisecond, "one new connection this often during the rollout window")
	fs.BoolVar(&o.healthBlocks, "health-blocks", true, "write health blocks (defaults: tcp every 5 s; every third forward http): the native agent checks every forward while idle; false: none, idle forwards go unchecked")
	measureList := fs.String("measure", strings.Join(measures, ","), "comma-separated parts to run: "+strings.Join(measures, ", ")+" (watch and comeback need apply)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.measure = map[string]bool{}
	for _, m := range strings.Split(*measureList, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.Contains(measures, m) {
			return o, fmt.Errorf("--measure: unknown part %q (%s)", m, strings.Join(measures, ", "))
		}
		o.measure[m] = true
	}
	if (o.measure["watch"] || o.measure["comeback"]) && !o.measure["apply"] {
		return o, errors.New("--measure: watch and comeback need apply")
	}
	for _, rt := range strings.Split(runtimes, ",") {
		switch rt = strings.TrimSpace(rt); rt {
		case runtimeKubectl, runtimeNative:
			o.runtimes = append(o.runtimes, rt)
		case "":
		default:
			return o, fmt.Errorf("--runtimes: unknown runtime %q (kubectl, native)", rt)
		}
	}
	if len(o.runtimes) == 0 {
		return o, errors.New("--runtimes names no runtime")
	}
	if targets != "" {
		o.targets = strings.Split(targets, ",")
	}
	if o.kubeconfig != "" && len(o.targets) == 0 {
		return o, errors.New("--kubeconfig needs --targets")
	}
	if o.forwards < 1 || o.kills < 0 || o.planRuns < 1 || o.agentKills < 0 || o.many < 0 || o.flood < 0 || o.comebacks < 0 {
		return o, errors.New("--forwards and --plan-runs must be positive, --kills, --agent-kills, --comeback-kills, --many and --flood not negative")
	}
	return o, nil
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	t := measure.Tool{Name: "kpf-scale", LogLevel: o.logLevel, Out: o.out, Failed: "scale run failed"}
	return measure.RunTable(t, stdout, stderr, func(ctx context.Context, log hclog.Logger) (string, error) {
		r := &run{opts: o, log: log}
		return r.main(ctx)
	})
}

// run is one measurement session.
type run struct {
	opts     options
	log      hclog.Logger
	scratch  string // temp dir: workspaces, states, binaries, shim
	rt       string // the runtime being measured
	wsDir    string // the current workspace and its state root
	stateDir string
	kubecfg  string
	kubectl  string // the real kubectl
	kpf      string
	cluster  *cluster.Cluster // nil with --kubeconfig
	targets  []string
	rows     []*row
	notes    []string // lines after the table
}

// Runtimes kpf-scale compares.
const (
	runtimeKubectl = "kubectl"
	runtimeNative  = "native"
)

// row is one line of the result table: a figure (and a note) per runtime.
type row struct {
	measure, target string
	figs, notes     map[string]string
}

// add records the current runtime's figure for measure.
func (r *run) add(measure, figure, target, note string) {
	var x *row
	for _, y := range r.rows {
		if y.measure == measure {
			x = y
		}
	}
	if x == nil {
		x = &row{measure: measure, figs: map[string]string{}, notes: map[string]string{}}
		r.rows = append(r.rows, x)
	}
	if target != "" && target != "—" || x.target == "" {
		x.target = target
	}
	x.figs[r.rt] = figure
	if note != "" {
		x.notes[r.rt] = note
	}
	r.log.Info("measured", "runtime", r.rt, "what", measure, "figure", figure)
}

func (r *run) table() string {
	if len(r.rows) == 0 && len(r.notes) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| measure (%d forwards unless said) |", r.opts.forwards)
	for _, rt := range r.opts.runtimes {
		fmt.Fprintf(&b, " %s |", rt)
	}
	b.WriteString(" target | notes |\n|---|")
	for range r.opts.runtimes {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s |", x.measure)
		var notes []string
		for _, rt := range r.opts.runtimes {
			fig := x.figs[rt]
			if fig == "" {
				fig = "—"
			}
			fmt.Fprintf(&b, " %s |", fig)
			if n := x.notes[rt]; n != "" {
				if len(r.opts.runtimes) > 1 {
					n = rt + ": " + n
				}
				notes = append(notes, n)
			}
		}
		fmt.Fprintf(&b, " %s | %s |\n", x.target, strings.Join(notes, "; "))
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func (r *run) main(ctx context.Context) (table string, err error) {
	if r.scratch, err = os.MkdirTemp("", "kpf-scale-"); err != nil {
		return "", fmt.Errorf("creating a scratch directory: %w", err)
	}
	if r.opts.keep {
		r.log.Info("keeping the scratch directory", "path", r.scratch)
	} else {
		defer os.RemoveAll(r.scratch)
	}
	if r.opts.stateRoot != "" && !r.opts.keep {
		defer func() {
			dirs, _ := filepath.Glob(filepath.Join(r.opts.stateRoot, filepath.Base(r.scratch)+"-*"))
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}()
	}
	if r.kubectl, err = exec.LookPath("kubectl"); err != nil {
		return "", fmt.Errorf("kpf's kubectl runtime needs kubectl: %w", err)
	}
	if r.kpf, err = measure.BuildKpf(ctx, r.opts.kpf, r.scratch); err != nil {
		return "", err
	}
	r.measureBinary(ctx)

	r.targets = r.opts.targets
	r.kubecfg = r.opts.kubeconfig
	if r.kubecfg == "" {
		c, err := r.startCluster(ctx)
		if c != nil {
			defer measure.Cleanup(r.log, "stopping the cluster", time.Minute, c.Stop)
		}
		if err != nil {
			return "", err
		}
		r.cluster = c
		r.kubecfg = c.Kubeconfig
		for i := range r.opts.deployments {
			r.targets = append(r.targets, fmt.Sprintf("service/echo-%d:80", i))
		}
	}
	for _, rt := range r.opts.runtimes {
		if err := r.measureRuntime(ctx, rt); err != nil {
			return r.table(), fmt.Errorf("runtime %s: %w", rt, err)
		}
	}
	return r.table(), nil
}

// use makes workspace name of the current runtime the one kpf runs in.
func (r *run) use(name string) error {
	r.wsDir = filepath.Join(r.scratch, r.rt+"-"+name)
	r.stateDir = filepath.Join(r.scratch, r.rt+"-"+name+"-state")
	if r.opts.stateRoot != "" {
		r.stateDir = filepath.Join(r.opts.stateRoot, filepath.Base(r.scratch)+"-"+r.rt+"-"+name)
	}
	for _, d := range []string{r.wsDir, r.stateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return nil
}

// measureRuntime takes every figure of runtime rt, and destroys what it
// started.
func (r *run) measureRuntime(ctx context.Context, rt string) (err error) {
	r.rt = rt
	r.log.Info("measuring a runtime", "runtime", rt)
	if err := r.use("scale"); err != nil {
		return err
	}
	if err := r.writeWorkspace(r.targets, r.opts.forwards, r.opts.basePort); err != nil {
		return err
	}
	destroyed := false
	defer func() {
		if !destroyed {
			r.destroy()
		}
	}()
	if r.opts.measure["plan"] {
		if err := r.measurePlan(ctx); err != nil {
			return err
		}
	}
	if r.opts.measure["apply"] {
		if err := r.measureApply(ctx); err != nil {
			return err
		}
	}
	if rt == runtimeNative && r.opts.measure["comeback"] && r.opts.comebacks > 0 {
		if err := r.measureComeback(ctx); err != nil {
			return err
		}
	}
	if r.opts.measure["watch"] {
		if err := r.measureWatch(ctx); err != nil {
			return err
		}
	}
	r.destroy()
	destroyed = true
	if r.opts.measure["rollout"] {
		if err := r.measureRollout(ctx); err != nil {
			return err
		}
	}
	if rt == runtimeNative && r.opts.many > 0 && r.opts.measure["many"] {
		if err := r.measureMany(ctx); err != nil {
			return err
		}
	}
	if rt == runtimeNative && r.opts.flood > 0 && r.opts.measure["flood"] {
		if err := r.measureFlood(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) startCluster(ctx context.Context) (*cluster.Cluster, error) {
	r.log.Info("starting the local control plane")
	// The cluster's state lives in the scratch directory (removed at the
	// end): other tools clean up /tmp/kpf-testcluster-* behind our back.
	c, err := cluster.Start(ctx, cluster.Options{Log: r.log.Named("cluster"), StateDir: filepath.Join(r.scratch, "cluster")})
	if err != nil {
		return nil, fmt.Errorf("starting the cluster: %w", err)
	}
	r.log.Info("cluster ready", "startup", c.StartupTime)
	if err := c.CreateNamespace(ctx, r.opts.namespace); err != nil {
		return c, err
	}
	for i := range r.opts.deployments {
		if err := c.DeployEcho(ctx, r.opts.namespace, fmt.Sprintf("echo-%d", i), 1); err != nil {
			return c, err
		}
	}
	// The rollout (2 replicas) and pod-deletion (1 replica) targets.
	if err := c.DeployEcho(ctx, r.opts.namespace, "roll", 2); err != nil {
		return c, err
	}
	if err := c.DeployEcho(ctx, r.opts.namespace, "solo", 1); err != nil {
		return c, err
	}
	r.log.Info("deployed", "deployments", r.opts.deployments, "namespace", r.opts.namespace)
	return c, nil
}

// writeWorkspace writes a kpf.hcl of forwards forwards of the current runtime cycling through
// targets, with variables, locals, defaults and health blocks.
func (r *run) writeWorkspace(targets []string, forwards, basePort int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "kpf {\n  name    = \"scale\"\n  runtime = %q\n}\n", r.rt)
	fmt.Fprintf(&b, `
variable "context" {
  type    = string
  default = %q
}

variable "base_port" {
  type    = number
  default = %d
}

locals {
  ns = %q
}

defaults {
  context   = var.context
  namespace = local.ns
  address   = "127.0.0.1"
%s}
`, r.opts.context, basePort, r.opts.namespace, r.defaultsHealth())
	for i := range forwards {
		t := targets[i%len(targets)]
		target, port, ok := strings.Cut(t, ":")
		if !ok {
			return fmt.Errorf("target %q is not KIND/NAME:PORT", t)
		}
		fmt.Fprintf(&b, "\nforward \"f%03d\" {\n  target      = %q\n  local_port  = var.base_port + %d\n  remote_port = %s\n", i, target, i, port)
		if i%3 == 0 && r.opts.healthBlocks {
			b.WriteString("  health {\n    http = \"/healthz\"\n  }\n")
		}
		b.WriteString("}\n")
	}
	return os.WriteFile(filepath.Join(r.wsDir, "kpf.hcl"), []byte(b.String()), 0o600)
}

// defaultsHealth is the defaults block's health block, if any.
func (r *run) defaultsHealth() string {
	if !r.opts.healthBlocks {
		return ""
	}
	return "  health {\n    tcp      = true\n    interval = \"5s\"\n  }\n"
}

// env is the environment of every kpf run; extra entries win.
func (r *run) env(extra ...string) []string {
	return measure.Env(r.kubecfg, r.stateDir, extra...)
}

func (r *run) kpfCmd(ctx context.Context, args ...string) *exec.Cmd {
	pre := []string{"-C", r.wsDir}
	if r.opts.agentLog != "" && len(args) > 0 && args[0] == "apply" {
		pre = append(pre, "--log-level", r.opts.agentLog)
	}
	cmd := exec.CommandContext(ctx, r.kpf, append(pre, args...)...)
	cmd.Env = r.env()
	return cmd
}

// timed runs kpf and returns its wall time and peak RSS. The peak RSS is
// kpf's own high-water mark (VmHWM, polled every millisecond while it runs);
// getrusage's figure would include the kubectl processes kpf waited for.
func (r *run) timed(ctx context.Context, args ...string) (time.Duration, int64, []byte, error) {
	cmd := r.kpfCmd(ctx, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, fmt.Errorf("starting kpf: %w", err)
	}
	done := make(chan struct{})
	var hwm int64
	go func() {
		defer close(done)
		for {
			if v := vmHWM(cmd.Process.Pid); v > 0 {
				hwm = v
			} else if v < 0 {
				return // gone (or a zombie)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := cmd.Wait()
	wall := time.Since(t0)
	<-done
	if err != nil {
		return wall, 0, out.Bytes(), fmt.Errorf("kpf %s: %w\n%s", strings.Join(args, " "), err, measure.Tail(out.String(), 2000))
	}
	return wall, hwm, out.Bytes(), nil
}

// vmHWM returns the peak RSS of pid in bytes, 0 if unknown yet, -1 once the
// process is gone or a zombie.
func vmHWM(pid int) int64 {
	v, err := measure.PeakRSS(pid)
	if err != nil {
		return -1 // gone, or a zombie: zombies have no memory lines
	}
	return v
}

func (r *run) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, out, err := r.timed(ctx, "destroy"); err != nil {
		r.log.Warn("kpf destroy", "error", err, "output", measure.Tail(string(out), 500))
	}
}

func (r *run) measurePlan(ctx context.Context) error {
	var walls []time.Duration
	var rss []int64
	for range r.opts.planRuns {
		wall, peak, out, err := r.timed(ctx, "plan")
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("Plan: %d to start", r.opts.forwards); !bytes.Contains(out, []byte(want)) {
			return fmt.Errorf("kpf plan did not say %q:\n%s", want, measure.Tail(string(out), 1000))
		}
		walls, rss = append(walls, wall), append(rss, peak)
	}
	r.add("`kpf plan` wall time (whole process)", fmtDur(median(walls)),
		"—", fmt.Sprintf("median of %d; min %s, max %s; %d forwards to start, ports probed cold", len(walls), fmtDur(slices.Min(walls)), fmtDur(slices.Max(walls)), r.opts.forwards))
	r.add("`kpf plan` peak RSS", fmtMB(median(rss)), "—", "kpf's own VmHWM, polled every ms")
	return r.measurePlanHyperfine(ctx)
}

func (r *run) readState() (*state.File, error) {
	dir, err := r.workspaceStateDir()
	if err != nil {
		return nil, err
	}
	st, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	return st.Load()
}

func (r *run) measureApply(ctx context.Context) error {
	t0 := time.Now()
	wall, peak, out, err := r.timed(ctx, "apply")
	if err != nil {
		return err
	}
	st, err := r.readState()
	if err != nil {
		return err
	}
	if len(st.Forwards) != r.opts.forwards {
		return fmt.Errorf("state has %d forwards after apply, want %d:\n%s", len(st.Forwards), r.opts.forwards, measure.Tail(string(out), 2000))
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(st.Forwards))
	var mu sync.Mutex
	var last time.Duration
	for name, f := range st.Forwards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := waitServes(ctx, f.Address, f.LocalPort, 60*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("forward %s: %w", name, err))
				return
			}
			if d := time.Since(t0); d > last {
				last = d
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if r.rt == runtimeNative {
		pid := r.agentPID(ctx)
		r.add("`kpf apply` until every forward serves bytes", fmtDur(last), "≤ 1.0 s native",
			fmt.Sprintf("kpf exits after %s (peak RSS %s); the agent used %.2f CPU s by then", fmtDur(wall), fmtMB(peak), float64(ticksOf(pid))/measure.ClockTicks))
		rss, pss, err := procMemory(pid)
		if err != nil {
			return fmt.Errorf("the agent: %w", err)
		}
		r.add("memory of what serves the forwards (after one request each)", fmtMB(rss), "—",
			fmt.Sprintf("one agent process, PSS %s; tunnels still open (one per pod: %d pods)", fmtMB(pss), len(r.targets)))
		return r.measureAgentAlone(ctx, pid)
	}
	r.add("`kpf apply` until every forward serves bytes", fmtDur(last), "≤ 1.0 s native",
		fmt.Sprintf("kpf exits after %s (peak RSS %s); the %d kubectl processes used %.1f CPU s by then (2 cores)",
			fmtDur(wall), fmtMB(peak), len(st.Forwards), float64(forwardsCPU(st))/measure.ClockTicks))

	var rss, pss int64
	for _, f := range st.Forwards {
		a, b, err := procMemory(procOf(f.Handle).PID)
		if err != nil {
			return fmt.Errorf("forward %s: %w", f.Name, err)
		}
		rss, pss = rss+a, pss+b
	}
	n := int64(len(st.Forwards))
	r.add("memory of what serves the forwards (after one request each)", fmt.Sprintf("%s (%s per forward)", fmtMB(rss), fmtMB(rss/n)), "—",
		fmt.Sprintf("%d kubectl processes; PSS %s (%s per forward): shared pages counted once", n, fmtMB(pss), fmtMB(pss/n)))
	return nil
}

// measureWatch runs `kpf apply --watch`, measures it idle, then times
// recoveries from kill -9.
func (r *run) measureWatch(ctx context.Context) error {
	spawnLog := filepath.Join(r.scratch, r.rt+"-spawns.log")
	shimDir := filepath.Join(r.scratch, r.rt+"-shim")
	if err := os.MkdirAll(shimDir, 0o700); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	shimPath := filepath.Join(shimDir, "kubectl")
	if err := os.Symlink(self, shimPath); err != nil {
		return fmt.Errorf("creating the kubectl shim: %w", err)
	}

	w, err := r.startWatch(ctx, "KPF_KUBECTL="+shimPath, spawnLogEnv+"="+spawnLog, realKubectlEnv+"="+r.kubectl)
	if err != nil {
		return err
	}
	defer w.Stop()
	report := func(err error) error {
		return fmt.Errorf("%w\nkpf apply --watch stdout:\n%s\nstderr:\n%s", err,
			measure.Tail(w.Stdout(), 3000), measure.Tail(w.Stderr(), 3000))
	}
	pid := w.PID()
	// Let the first passes probe every forward. A native forward's tunnel
	// (and its health checks) lives until IdleTimeout after its last
	// connection: wait for them to close, so the forwards are idle.
	settle := 6 * time.Second // native: the tunnels closed in measureAgentAlone
	if err := measure.Sleep(ctx, settle); err != nil {
		return err
	}

	st, err := r.readState()
	if err != nil {
		return err
	}
	cpu0, err := measure.CPUTicks(pid)
	if err != nil {
		return err
	}
	fwdCPU0 := r.holdersCPU(ctx, st)
	spawns0 := len(readLines(spawnLog))
	t0 := time.Now()
	children := map[int]bool{}
	deadline := t0.Add(r.opts.idle)
	for time.Now().Before(deadline) {
		for _, c := range childPIDs(pid) {
			children[c] = true
		}
		if err := measure.Sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	window := time.Since(t0)
	cpu1, err := measure.CPUTicks(pid)
	if err != nil {
		return err
	}
	spawned := readLines(spawnLog)[spawns0:]
	spawns := len(spawned)
	fwdCPU := r.holdersCPU(ctx, st) - fwdCPU0
	secs := float64(cpu1-cpu0) / measure.ClockTicks
	ticks := int(window / (2 * time.Second))
	r.add(fmt.Sprintf("idle %s, TCP health every 5 s: CPU of `kpf apply --watch`", fmtDur(r.opts.idle)),
		fmt.Sprintf("%.2f s (%.2f%% of one core)", secs, 100*secs/window.Seconds()), "≤ 1% of one core",
		fmt.Sprintf("utime+stime from /proc over %s", fmtDur(window)))
	holders := fmt.Sprintf("the %d kubectl processes", len(st.Forwards))
	if r.rt == runtimeNative {
		holders = "the agent, no tunnel open, asked by the watch for every forward's status each pass"
	}
	fsecs := float64(fwdCPU) / measure.ClockTicks
	r.add(fmt.Sprintf("idle %s, TCP health every 5 s: CPU of what serves the forwards", fmtDur(r.opts.idle)),
		fmt.Sprintf("%.2f s (%.2f%% of one core)", fsecs, 100*fsecs/window.Seconds()), "≤ 0.5% of one core (agent)", holders)
	perTick := "none"
	if spawns > 0 || len(children) > 0 {
		perTick = fmt.Sprintf("%.2f per tick", float64(max(spawns, len(children)))/float64(max(ticks, 1)))
	}
	r.add("processes spawned by the idle watch", fmt.Sprintf("%d (%s)", max(spawns, len(children)), perTick), "none",
		fmt.Sprintf("kubectl shim saw %d%s; children seen by polling every 10 ms: %d; %d ticks of 2 s", spawns, spawnKinds(spawned), len(children), ticks))
	if rss, _, err := procMemory(pid); err == nil {
		r.add("`kpf apply --watch` RSS after the idle window", fmtMB(rss), "—", "")
	}

	if r.rt == runtimeNative {
		if r.opts.agentKills == 0 {
			return nil
		}
		if err := r.measureAgentKills(ctx); err != nil {
			return report(err)
		}
		return nil
	}
	if r.opts.kills == 0 {
		return nil
	}
	if err := r.measureRecovery(ctx); err != nil {
		return report(err)
	}
	return nil
}

func (r *run) measureRecovery(ctx context.Context) error {
	st, err := r.readState()
	if err != nil {
		return err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range st.Forwards {
			if !yield(n) {
				return
			}
		}
	})
	var times []time.Duration
	for k := range r.opts.kills {
		name := names[(k*7)%len(names)]
		st, err := r.readState()
		if err != nil {
			return err
		}
		f := st.Forwards[name]
		if err := waitServes(ctx, f.Address, f.LocalPort, 30*time.Second); err != nil {
			return fmt.Errorf("forward %s does not serve before the kill: %w", name, err)
		}
		// proc.Signal checks the process is still the one kpf started.
		if err := proc.Signal(procOf(f.Handle), syscall.SIGKILL); err != nil {
			return fmt.Errorf("killing forward %s (pid %d): %w", name, procOf(f.Handle).PID, err)
		}
		t0 := time.Now()
		if err := r.waitRecovered(ctx, name, procOf(f.Handle).PID, 60*time.Second); err != nil {
			return err
		}
		d := time.Since(t0)
		times = append(times, d)
		r.log.Debug("recovered", "forward", name, "after", d)
		// Decorrelate the next kill from the watch's timer.
		if err := measure.Sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))); err != nil {
			return err
		}
	}
	slices.Sort(times)
	r.add("recovery after kill -9 under `apply --watch`",
		p50p95(times), "p50 ≤ 0.5 s native (all forwards)",
		fmt.Sprintf("one forward's kubectl killed; until it serves bytes again; min %s, max %s; check_interval 2 s", fmtDur(times[0]), fmtDur(times[len(times)-1])))
	return nil
}

// waitRecovered waits until forward name runs a process other than oldPID
// and its (possibly new) port serves bytes.
func (r *run) waitRecovered(ctx context.Context, name string, oldPID int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, err := r.readState()
		if err == nil {
			f, ok := st.Forwards[name]
			if ok && procOf(f.Handle).PID != 0 && procOf(f.Handle).PID != oldPID && serves(ctx, f.Address, f.LocalPort, time.Second) == nil {
				return nil
			}
		}
		if err := measure.Sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("forward %s did not recover within %s", name, timeout)
}

// waitServes retries serves until it succeeds or timeout passes.
func waitServes(ctx context.Context, addr string, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = serves(ctx, addr, port, 2*time.Second); err == nil {
			return nil
		}
		if serr := measure.Sleep(ctx, 20*time.Millisecond); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("no bytes from %s:%d within %s: %w", addr, port, timeout, err)
}

// serves sends an HTTP request through the forward and reads the first bytes
// of the answer (the echo backends answer with 200 and the pod's name).
func serves(ctx context.Context, addr string, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: scale\r\n\r\n"); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = errors.New("no bytes")
	}
	return err
}

// shim is kpf-scale started as "kubectl": it logs the spawn and becomes the
// real kubectl (same pid, so kpf's process identity holds).
func shim() {
	if path := os.Getenv(spawnLogEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			args := os.Args[1:]
			if len(args) > 12 {
				args = args[:12]
			}
			fmt.Fprintf(f, "%s %d %s\n", time.Now().Format(time.RFC3339Nano), os.Getpid(), strings.Join(args, " "))
			f.Close()
		}
	}
	real := os.Getenv(realKubectlEnv)
	if real == "" {
		fmt.Fprintln(os.Stderr, "kpf-scale shim: "+realKubectlEnv+" is not set")
		os.Exit(127)
	}
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "kpf-scale shim:", err)
	os.Exit(127)
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// spawnKinds summarises shim log lines ("TIME PID ARGS...") by their
// kubectl subcommand, e.g. " (2× config, 1× port-forward)".
func spawnKinds(lines []string) string {
	counts := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		kind := "?"
		for _, a := range f[min(2, len(f)):] {
			if !strings.HasPrefix(a, "-") && !strings.Contains(a, "/") && a != "kpf-local" {
				kind = a
				break
			}
		}
		counts[kind]++
	}
	if len(counts) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// forwardsCPU sums the CPU ticks of the state's forward processes.
func forwardsCPU(st *state.File) int64 {
	var sum int64
	for _, f := range st.Forwards {
		if proc.Alive(procOf(f.Handle)) {
			if t, err := measure.CPUTicks(procOf(f.Handle).PID); err == nil {
				sum += t
			}
		}
	}
	return sum
}

// childPIDs lists the current children of every thread of pid.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// procMemory returns the RSS and PSS of pid in bytes.
func procMemory(pid int) (rss, pss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	return rss, pss, nil
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// p50p95 is the figure of a recovery row: the p50 and p95 of sorted.
func p50p95(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %s, p95 %s", fmtDur(measure.Percentile(sorted, 50)), fmtDur(measure.Percentile(sorted, 95)))
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// procOf is the kubectl process a handle names (zero for another runtime's).
func procOf(h runtime.Handle) proc.ID {
	id, _ := kubectl.Process(h)
	return id
}
