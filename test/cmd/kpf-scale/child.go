//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/native"
)

// The flood's client and the timing of the agent's answers each run in a
// process of their own (kpf-scale started again with childArg): a program
// that floods a forward, and one that asks for status, are other processes
// than the agent's. Run in this process, the 10,000 connections' goroutines
// and the test backends' delayed the timing loop itself: in one run the
// slowest answer took 1.28 s as timed here while the agent had served it
// in 321 ms (the agent's log of accept and answer), and three answers over
// 400 ms had taken the agent under 20 ms.
const childArg = "child"

// Child modes.
const (
	childFlood       = "flood"        // PORT N: floods, reports, holds until stdin closes
	childAgentStatus = "agent-status" // STATE-DIR, handles on stdin: times status until stdin closes
)

// floodReport is the flood child's one line of JSON.
type floodReport struct {
	Served, Refused, Failed int64
	FirstErr                string
	Opened                  time.Duration
}

// timingReport is the agent-status child's one line of JSON.
type timingReport struct {
	Took   []time.Duration
	Failed int
}

// childMain runs kpf-scale as one of its own child processes.
func childMain(args []string, stdin io.Reader, stdout io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	switch {
	case len(args) == 3 && args[0] == childFlood:
		err = floodChild(ctx, args[1], args[2], stdin, stdout)
	case len(args) == 2 && args[0] == childAgentStatus:
		err = agentStatusChild(ctx, args[1], stdin, stdout)
	default:
		err = fmt.Errorf("kpf-scale %s: unknown arguments %q", childArg, args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// floodChild opens n connections at once on port, writes a floodReport
// once each was served, refused or failed, and holds the served ones open
// until stdin closes.
func floodChild(ctx context.Context, portArg, nArg string, stdin io.Reader, stdout io.Writer) error {
	port, err := strconv.Atoi(portArg)
	if err != nil {
		return fmt.Errorf("port %q: %w", portArg, err)
	}
	n, err := strconv.Atoi(nArg)
	if err != nil {
		return fmt.Errorf("connections %q: %w", nArg, err)
	}
	release := make(chan struct{})
	res := flood(ctx, port, n, release)
	rep := floodReport{Served: res.served.Load(), Refused: res.refused.Load(), Failed: res.failed.Load(), Opened: res.opened}
	if e, ok := res.firstErr.Load().(string); ok {
		rep.FirstErr = e
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	close(release)
	return nil
}

// agentStatusChild asks the agent of stateDir for the status of the
// handles read from stdin (one JSON array) every 20 ms until the rest of
// stdin closes, then writes a timingReport.
func agentStatusChild(ctx context.Context, stateDir string, stdin io.Reader, stdout io.Writer) error {
	var hs []runtime.Handle
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&hs); err != nil {
		return fmt.Errorf("reading the handles: %w", err)
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), stdin))
		close(stop)
	}()
	rt := &native.Runtime{StateDir: stateDir, Log: hclog.NewNullLogger()}
	took, failed := timedLoop(ctx, stop, 20*time.Millisecond, func() error {
		sts, errs := rt.InspectMany(ctx, hs)
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if !allKnown(sts) {
			return errors.New("the agent did not answer for every forward")
		}
		return nil
	})
	return json.NewEncoder(stdout).Encode(timingReport{Took: took, Failed: failed})
}

// child is a running child process of kpf-scale: done closes its stdin
// and decodes its last line into v.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *json.Decoder
}

// startChild starts kpf-scale itself in mode with args.
func startChild(ctx context.Context, mode string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding kpf-scale's executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{childArg, mode}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kpf-scale %s %s: %w", childArg, mode, err)
	}
	return &child{cmd: cmd, stdin: stdin, out: json.NewDecoder(stdout)}, nil
}

// read decodes the child's next line of JSON into v.
func (c *child) read(v any) error {
	if err := c.out.Decode(v); err != nil {
		return fmt.Errorf("reading kpf-scale %s's report: %w", c.cmd.Args[1:3], err)
	}
	return nil
}

// finish closes the child's stdin (its signal to end), decodes its last
// report into v (nil: none) and waits for it to exit.
func (c *child) finish(v any) error {
	_ = c.stdin.Close()
	var err error
	if v != nil {
		err = c.read(v)
	}
	return errors.Join(err, c.cmd.Wait())
}
