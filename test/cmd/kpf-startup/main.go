package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpf-dev/kpf/test/internal/measure"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kpf-startup:", err)
		os.Exit(1)
	}
}

type options struct {
	kpf, base     string
	goBin         string
	runs          int
	traceRuns     int
	forwards      int
	basePort      int
	keep          bool
	ldflags       string
	traceTopCount int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kpf-startup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kpf, "kpf", "bin/kpf", "the kpf binary to measure")
	fs.StringVar(&o.base, "base", "", "a second kpf binary measured in the same rounds (e.g. built from main)")
	fs.StringVar(&o.goBin, "go", "go", "the go command that builds the hello world (use the one that built kpf)")
	fs.StringVar(&o.ldflags, "ldflags", "-s -w", "ldflags of the hello world (as kpf's release build)")
	fs.IntVar(&o.runs, "runs", 200, "rounds; each runs every command once, in a shuffled order")
	fs.IntVar(&o.traceRuns, "inittrace-runs", 21, "runs of GODEBUG=inittrace=1 kpf version")
	fs.IntVar(&o.traceTopCount, "top", 10, "packages listed from the init trace")
	fs.IntVar(&o.forwards, "forwards", 100, "forwards in the planned workspace")
	fs.IntVar(&o.basePort, "base-port", 47100, "first local port of the workspace")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (its path is printed)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.runs < 1 || o.traceRuns < 1 || o.forwards < 1 {
		return o, errors.New("--runs, --inittrace-runs and --forwards must be at least 1")
	}
	return o, nil
}

// command is one measured command line.
type command struct {
	label string
	argv  []string
	check string // a string its output must hold
	wall  []time.Duration
	cpu   []time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "kpf-startup-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "scratch directory:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	hello, err := buildHello(ctx, o, scratch)
	if err != nil {
		return err
	}
	ws := filepath.Join(scratch, "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ws, "kpf.hcl"), []byte(workspace(o.forwards, o.basePort)), 0o600); err != nil {
		return err
	}
	kubeconfig := filepath.Join(scratch, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(kubeconfigText), 0o600); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + scratch,
		"KUBECONFIG=" + kubeconfig,
		"KPF_STATE_DIR=" + filepath.Join(scratch, "state"),
		"NO_COLOR=1",
	}
	bins := []struct{ label, path string }{{"kpf", o.kpf}}
	if o.base != "" {
		bins = append(bins, struct{ label, path string }{"base", o.base})
	}
	cmds := []*command{{label: "hello", argv: []string{hello}, check: "hello"}}
	for _, b := range bins {
		abs, err := filepath.Abs(b.path)
		if err != nil {
			return err
		}
		cmds = append(cmds,
			&command{label: b.label + " version", argv: []string{abs, "version"}, check: "kpf"},
			&command{label: b.label + " plan", argv: []string{abs, "-C", ws, "plan"}, check: fmt.Sprintf("Plan: %d to start", o.forwards)},
			&command{label: b.label + " status", argv: []string{abs, "-C", ws, "status"}, check: "stopped"})
	}
	// One run of each first: it checks the output and warms the page cache.
	for _, c := range cmds {
		if _, _, err := runOnce(ctx, c, env, true); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d rounds of %d commands, %s UTC, load average %s\n", o.runs, len(cmds), time.Now().UTC().Format("15:04:05"), measure.LoadAvg())
	order := slices.Clone(cmds)
	for range o.runs {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, c := range order {
			wall, cpu, err := runOnce(ctx, c, env, false)
			if err != nil {
				return err
			}
			c.wall, c.cpu = append(c.wall, wall), append(c.cpu, cpu)
		}
	}
	fmt.Fprintf(stdout, "Startup, %d interleaved rounds (finished %s UTC, load average %s, %d CPUs)\n\n", o.runs, time.Now().UTC().Format("15:04:05"), measure.LoadAvg(), numCPU())
	printTimes(stdout, cmds)
	fmt.Fprintln(stdout)
	printRatios(stdout, cmds, bins[0].label)
	if o.base != "" {
		printRatios(stdout, cmds, "base")
	}
	for _, b := range bins {
		trace, err := initTrace(ctx, b.path, env, o.traceRuns)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n`GODEBUG=inittrace=1 %s version` (%s), median of %d runs per package:\n\n", b.path, b.label, o.traceRuns)
		trace.print(stdout, o.traceTopCount)
	}
	return nil
}

// runOnce runs c once and returns its wall and CPU time.
func runOnce(ctx context.Context, c *command, env []string, check bool) (time.Duration, time.Duration, error) {
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w\n%s", strings.Join(c.argv, " "), err, out.String())
	}
	if check && !strings.Contains(out.String(), c.check) {
		return 0, 0, fmt.Errorf("%s did not print %q:\n%s", strings.Join(c.argv, " "), c.check, out.String())
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func buildHello(ctx context.Context, o options, scratch string) (string, error) {
	dir := filepath.Join(scratch, "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{
		"go.mod":  "module hello\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(scratch, "hello-bin")
	cmd := exec.CommandContext(ctx, o.goBin, "build", "-trimpath", "-ldflags", o.ldflags, "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the hello world: %w\n%s", err, out)
	}
	return bin, nil
}

const kubeconfigText = `apiVersion: v1
kind: Config
clusters:
- name: never-dialled
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: kpf-local
  context:
    cluster: never-dialled
    user: u
current-context: kpf-local
users:
- name: u
  user:
    token: not-a-secret
`

// workspace is a kpf.hcl of n forwards with variables, locals, defaults and
// health blocks, as kpf-scale writes.
func workspace(n, basePort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `kpf {
  name = "startup"
}

variable "context" {
  type    = string
  default = "kpf-local"
}

variable "base_port" {
  type    = number
  default = %d
}

locals {
  ns = "default"
}

defaults {
  context   = var.context
  namespace = local.ns
  address   = "127.0.0.1"
  health {
    tcp      = true
    interval = "5s"
  }
}
`, basePort)
	for i := range n {
		fmt.Fprintf(&b, "\nforward \"f%03d\" {\n  target      = \"deployment/web%d\"\n  local_port  = var.base_port + %d\n  remote_port = 8080\n", i, i%10, i)
		if i%3 == 0 {
			b.WriteString("  health {\n    http = \"/healthz\"\n  }\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// stats are a sample's median and spread.
type stats struct{ median, p10, p90, min time.Duration }

func summarize(xs []time.Duration) stats {
	s := slices.Clone(xs)
	slices.Sort(s)
	return stats{median: percentile(s, 50), p10: percentile(s, 10), p90: percentile(s, 90), min: s[0]}
}

// percentile of sorted samples (nearest rank; the median of an even count
// is the mean of the two middle ones).
func percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p == 50 && n%2 == 0 {
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}
	i := (p*n + 99) / 100
	return sorted[min(max(i-1, 0), n-1)]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }

func printTimes(w io.Writer, cmds []*command) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "command\twall median\twall p10–p90\twall min\tCPU median\tCPU p10–p90")
	for _, c := range cmds {
		ws, cs := summarize(c.wall), summarize(c.cpu)
		fmt.Fprintf(tw, "%s\t%s\t%s – %s\t%s\t%s\t%s – %s\n", c.label, ms(ws.median), ms(ws.p10), ms(ws.p90), ms(ws.min), ms(cs.median), ms(cs.p10), ms(cs.p90))
	}
	tw.Flush()
}

// printRatios prints the goals' ratios for the binary labelled bin, from
// medians (wall and CPU).
func printRatios(w io.Writer, cmds []*command, bin string) {
	find := func(label string) *command {
		for _, c := range cmds {
			if c.label == label {
				return c
			}
		}
		return nil
	}
	hello, version, plan := find("hello"), find(bin+" version"), find(bin+" plan")
	ratio := func(a, b []time.Duration) float64 {
		return float64(summarize(a).median) / float64(summarize(b).median)
	}
	verdict := func(r, goal float64) string {
		if r <= goal {
			return "meets"
		}
		return "misses"
	}
	rv, rp := ratio(version.wall, hello.wall), ratio(plan.wall, version.wall)
	fmt.Fprintf(w, "%s: version/hello %.2f× wall (goal ≤ 3×: %s), %.2f× CPU; plan/version %.2f× wall (goal ≤ 1.5×: %s), %.2f× CPU\n",
		bin, rv, verdict(rv, 3), ratio(version.cpu, hello.cpu), rp, verdict(rp, 1.5), ratio(plan.cpu, version.cpu))
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + 1
}
