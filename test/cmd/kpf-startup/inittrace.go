package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// trace is the init clock of each package over several runs.
type trace struct {
	clock map[string][]time.Duration
	runs  int
}

// initTrace runs `GODEBUG=inittrace=1 kpf version` runs times.
func initTrace(ctx context.Context, kpf string, env []string, runs int) (*trace, error) {
	t := &trace{clock: map[string][]time.Duration{}}
	for range runs {
		cmd := exec.CommandContext(ctx, kpf, "version")
		cmd.Env = append(env, "GODEBUG=inittrace=1")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("GODEBUG=inittrace=1 %s version: %w\n%s", kpf, err, stderr.String())
		}
		if err := t.add(strings.NewReader(stderr.String())); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// add reads one run's trace: lines like
// "init k8s.io/api/core/v1 @12 ms, 0.41 ms clock, 5120 bytes, 12 allocs".
func (t *trace) add(r io.Reader) error {
	sc := bufio.NewScanner(r)
	seen := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return fmt.Errorf("inittrace line %q: %w", sc.Text(), err)
		}
		t.clock[f[1]] = append(t.clock[f[1]], time.Duration(ms*1e6))
		seen = true
	}
	if !seen {
		return fmt.Errorf("no inittrace lines in the output")
	}
	t.runs++
	return sc.Err()
}

// medians returns each package's median clock (a run where a package did
// not appear counts as 0), largest first, and their sum.
func (t *trace) medians() ([]pkgClock, time.Duration) {
	var out []pkgClock
	var sum time.Duration
	for pkg, xs := range t.clock {
		s := slices.Clone(xs)
		for len(s) < t.runs {
			s = append(s, 0)
		}
		slices.Sort(s)
		m := percentile(s, 50)
		out = append(out, pkgClock{pkg, m})
		sum += m
	}
	slices.SortFunc(out, func(a, b pkgClock) int {
		if a.clock != b.clock {
			return int(b.clock - a.clock)
		}
		return strings.Compare(a.pkg, b.pkg)
	})
	return out, sum
}

type pkgClock struct {
	pkg   string
	clock time.Duration
}

func (t *trace) print(w io.Writer, top int) {
	m, sum := t.medians()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, p := range m[:min(top, len(m))] {
		fmt.Fprintf(tw, "%d.\t%s\t%.3f ms\n", i+1, p.pkg, float64(p.clock)/1e6)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d packages with an init, sum of the medians %.2f ms\n", len(m), float64(sum)/1e6)
}
