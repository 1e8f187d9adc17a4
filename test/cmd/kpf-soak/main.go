//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/test/internal/measure"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line of kpf-soak.
type options struct {
	kpf           string
	duration      time.Duration
	forwards      int
	deployments   int
	faults        []string
	watch         bool
	basePort      int
	gap           time.Duration // calm traffic before the first fault and after each recovery
	settle        time.Duration // calm traffic after the last fault, before the final measurement
	recoverWithin time.Duration // the goal: every forward serves again within this after a fault
	floodConns    int
	httpWorkers   int
	streamWorkers int
	streamBytes   int
	rssSlack      float64 // the agent's RSS at the end may exceed the baseline by this fraction…
	rssSlackMB    int     // …plus this many MiB
	fdSlack       int     // its open fds at the end may exceed the baseline by this many
	isolationGoal bool    // idle connections cut by slow-reader or flood count as a missed goal
	logLevel      string
	keepLogs      string // copy the agent's and the watch's logs here at the end
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kpf-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kpf, "kpf", "", "kpf binary (default: go build ./cmd/kpf into a temp dir)")
	fs.DurationVar(&o.duration, "duration", 30*time.Minute, "how long faults rotate (each chosen fault runs at least once)")
	fs.IntVar(&o.forwards, "forwards", 100, "native forwards in the workspace")
	fs.IntVar(&o.deployments, "deployments", 10, "2-replica echo deployments the forwards cycle through")
	faults := fs.String("faults", strings.Join(faultNames(), ","), "comma-separated faults to rotate, in this order")
	fs.BoolVar(&o.watch, "watch", false, "serve the forwards under `kpf apply --watch` instead of one `kpf apply`")
	fs.IntVar(&o.basePort, "base-port", 24000, "local port of the first forward (kpf moves a forward whose port is busy)")
	fs.DurationVar(&o.gap, "gap", 10*time.Second, "calm traffic before the first fault and after each recovery")
	// The agent gives memory back at most every 30 s and holds a release
	// back up to 30 s while bytes move (runtime/native's releaser), and the
	// traffic never stops: 60 s after the last fault's recovery (plus the
	// gap) any release it caused has run. With 30 s, one CI run measured an
	// API restart's tunnels 37 s after it, before their release was due.
	fs.DurationVar(&o.settle, "settle", 60*time.Second, "calm traffic after the last fault before the agent's final RSS and fds (time to give memory back: the agent's release runs within 60 s under traffic)")
	fs.DurationVar(&o.recoverWithin, "recover-within", 60*time.Second, "goal: every forward serves again within this after a fault ends")
	fs.IntVar(&o.floodConns, "flood-conns", 2000, "connections the flood holds open on one forward")
	fs.IntVar(&o.httpWorkers, "http-workers", 4, "goroutines sending HTTP requests, one after the other, round the forwards")
	fs.IntVar(&o.streamWorkers, "stream-workers", 2, "goroutines sending echoed bulk streams, one after the other")
	fs.IntVar(&o.streamBytes, "stream-bytes", 256<<10, "bytes of one echoed stream")
	fs.Float64Var(&o.rssSlack, "rss-slack", 0.5, "goal: the agent's RSS at the end is at most baseline × (1 + this) + --rss-slack-mb")
	fs.IntVar(&o.rssSlackMB, "rss-slack-mb", 16, "see --rss-slack")
	fs.BoolVar(&o.isolationGoal, "isolation-goal", false, "count idle connections cut by slow-reader or flood (other connections through the same tunnel) as a missed goal, not only report them")
	fs.IntVar(&o.fdSlack, "fd-slack", 32, "goal: the agent's open fds at the end are at most the baseline's plus this")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of kpf-soak itself (stderr)")
	fs.StringVar(&o.keepLogs, "keep-logs", "", "copy the agent's logs, the watch's stderr and the control plane's logs (cluster/) into this directory at the end")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(faultNames(), f) {
			return o, fmt.Errorf("--faults: unknown fault %q (%s)", f, strings.Join(faultNames(), ", "))
		}
		o.faults = append(o.faults, f)
	}
	switch {
	case o.forwards < 1 || o.deployments < 1:
		return o, errors.New("--forwards and --deployments must be positive")
	case o.httpWorkers < 1 || o.streamWorkers < 0 || o.streamBytes < 1 || o.floodConns < 1:
		return o, errors.New("--http-workers, --stream-bytes and --flood-conns must be positive, --stream-workers not negative")
	case o.duration <= 0 || o.recoverWithin <= 0 || o.gap < 0 || o.settle < 0:
		return o, errors.New("--duration and --recover-within must be positive, --gap and --settle not negative")
	}
	return o, nil
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "kpf-soak:", err)
		}
		return 2
	}
	ctx, stop, log := measure.Start("kpf-soak", o.logLevel, stderr)
	defer stop()
	s := &soak{opts: o, log: log}
	runErr := s.main(ctx)
	if len(s.rows) > 0 {
		fmt.Fprint(stdout, renderTable(s.rows, o))
	}
	if runErr != nil {
		log.Error("the soak did not finish", "error", runErr)
		return 1
	}
	goals := checkGoals(s.rows, o)
	fmt.Fprint(stdout, renderGoals(goals))
	if n := missed(goals); n > 0 {
		fmt.Fprintf(stdout, "\nkpf-soak: %d goal(s) missed\n", n)
		return 1
	}
	fmt.Fprintln(stdout, "\nkpf-soak: every goal met")
	return 0
}
