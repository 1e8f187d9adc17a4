package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// listFlag collects repeated name=value flags.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("benchratio", flag.ContinueOnError)
	var goals, limits listFlag
	fs.Var(&goals, "goal", "`X=R`: X/kpf should be at least R times as fast as X/reference (repeatable)")
	fs.Var(&limits, "limit", "`NAME=DURATION`: NAME's median should be at most DURATION per op (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := parseGoals(goals, limits)
	if err != nil {
		return err
	}
	res, err := parse(in)
	if err != nil {
		return err
	}
	if len(res.benches) == 0 {
		return errors.New("no benchmark results in the input")
	}
	return report(out, res, g)
}

// goals are the targets to report against.
type goals struct {
	ratio map[string]float64       // pair name -> minimum reference/kpf
	limit map[string]time.Duration // benchmark name -> maximum ns/op
}

func parseGoals(ratios, limits []string) (goals, error) {
	g := goals{ratio: map[string]float64{}, limit: map[string]time.Duration{}}
	for _, s := range ratios {
		name, v, ok := strings.Cut(s, "=")
		r, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
		if !ok || err != nil || r <= 0 {
			return g, fmt.Errorf("-goal %q: want NAME=RATIO, e.g. ProbeCached=4", s)
		}
		g.ratio[name] = r
	}
	for _, s := range limits {
		name, v, ok := strings.Cut(s, "=")
		d, err := time.ParseDuration(v)
		if !ok || err != nil || d <= 0 {
			return g, fmt.Errorf("-limit %q: want NAME=DURATION, e.g. ProbeCached/kpf=10ns", s)
		}
		g.limit[name] = d
	}
	return g, nil
}

// bench is one benchmark's samples, one per run, per unit ("ns/op", "B/op",
// "allocs/op", custom metrics).
type bench struct {
	name    string // package-relative: "ProbeCached/kpf"
	pkg     string
	samples map[string][]float64
}

type results struct {
	cpu, goos, goarch string
	benches           []*bench // in order of first appearance
}

// parse reads go test -bench output. Benchmark names lose their
// "Benchmark" prefix and "-GOMAXPROCS" suffix.
func parse(in io.Reader) (*results, error) {
	res := &results{}
	byKey := map[string]*bench{}
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok {
			switch k {
			case "pkg":
				pkg = v
			case "cpu":
				res.cpu = v
			case "goos":
				res.goos = v
			case "goarch":
				res.goarch = v
			}
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		key := pkg + "\x00" + name
		b := byKey[key]
		if b == nil {
			b = &bench{name: name, pkg: pkg, samples: map[string][]float64{}}
			byKey[key] = b
			res.benches = append(res.benches, b)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: value %q: %w", line, f[i], err)
			}
			b.samples[f[i+1]] = append(b.samples[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// duration formats nanoseconds with three significant digits.
func duration(ns float64) string {
	switch {
	case ns < 1e3:
		return strconv.FormatFloat(ns, 'f', digits(ns), 64) + " ns"
	case ns < 1e6:
		return strconv.FormatFloat(ns/1e3, 'f', digits(ns/1e3), 64) + " µs"
	case ns < 1e9:
		return strconv.FormatFloat(ns/1e6, 'f', digits(ns/1e6), 64) + " ms"
	}
	return strconv.FormatFloat(ns/1e9, 'f', digits(ns/1e9), 64) + " s"
}

func digits(v float64) int {
	switch {
	case v < 10:
		return 2
	case v < 100:
		return 1
	}
	return 0
}

func count(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func report(out io.Writer, res *results, g goals) error {
	runs := 0
	for _, b := range res.benches {
		runs = max(runs, len(b.samples["ns/op"]))
	}
	fmt.Fprintf(out, "machine: %s, %s/%s; medians of %d run(s)\n\n", orUnknown(res.cpu), orUnknown(res.goos), orUnknown(res.goarch), runs)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\truns\tns/op (median)\tmin–max\tB/op\tallocs/op\tother metrics\t")
	pkg := ""
	for _, b := range res.benches {
		if b.pkg != pkg {
			pkg = b.pkg
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\n", pkg)
		}
		ns := b.samples["ns/op"]
		lo, hi := slices.Min(ns), slices.Max(ns)
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s–%s\t%s\t%s\t%s\t\n", b.name, len(ns), duration(median(ns)),
			duration(lo), duration(hi), metric(b, "B/op"), metric(b, "allocs/op"), others(b))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	pairs := pairsOf(res)
	if len(pairs) > 0 {
		fmt.Fprintln(out, "\nkpf against the reference's algorithms, same run (speed-up = reference / kpf; per run: the median")
		fmt.Fprintln(out, "of each run's own ratio, its pair measured side by side; the goal is judged on it):")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "benchmark\tkpf\treference\tof the medians\tper run (min–max)\tallocs kpf/ref\tgoal\t\t")
		for _, p := range pairs {
			k, r := median(p.kpf.samples["ns/op"]), median(p.ref.samples["ns/op"])
			per := perRun(p)
			goal, verdict := "", ""
			if want, ok := g.ratio[p.name]; ok {
				goal = "≥ " + count(want) + "×"
				verdict = verdictOf(median(per) >= want)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s–%s)\t%s/%s\t%s\t%s\t\n", p.name, duration(k), duration(r), speedup(r/k),
				speedup(median(per)), times(slices.Min(per)), times(slices.Max(per)),
				metric(p.kpf, "allocs/op"), metric(p.ref, "allocs/op"), goal, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(g.limit) > 0 {
		fmt.Fprintln(out, "\nlimits:")
		names := make([]string, 0, len(g.limit))
		for n := range g.limit {
			names = append(names, n)
		}
		slices.Sort(names)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, n := range names {
			b := find(res, n)
			if b == nil {
				fmt.Fprintf(tw, "%s\tnot measured\t≤ %s\t\t\n", n, duration(float64(g.limit[n])))
				continue
			}
			m := median(b.samples["ns/op"])
			fmt.Fprintf(tw, "%s\t%s\t≤ %s\t%s\t\n", n, duration(m), duration(float64(g.limit[n])), verdictOf(m <= float64(g.limit[n])))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(g.ratio))
	for name := range g.ratio {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.ContainsFunc(pairs, func(p pair) bool { return p.name == name }) {
			fmt.Fprintf(out, "goal %s: no %s/kpf and %s/reference pair in the input\n", name, name, name)
		}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func metric(b *bench, unit string) string {
	xs, ok := b.samples[unit]
	if !ok {
		return "-"
	}
	return count(median(xs))
}

// others lists the medians of custom metrics ("4.8e+06 load-ns/op").
func others(b *bench) string {
	var units []string
	for u := range b.samples {
		switch u {
		case "ns/op", "B/op", "allocs/op", "MB/s":
		default:
			units = append(units, u)
		}
	}
	slices.Sort(units)
	parts := make([]string, len(units))
	for i, u := range units {
		parts[i] = strconv.FormatFloat(median(b.samples[u]), 'g', 4, 64) + " " + u
	}
	return strings.Join(parts, ", ")
}

func speedup(x float64) string {
	if x >= 1 {
		return strconv.FormatFloat(x, 'f', 2, 64) + "× faster"
	}
	return strconv.FormatFloat(1/x, 'f', 2, 64) + "× slower"
}

func verdictOf(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// perRun returns reference / kpf of each run: the i-th sample of each side
// comes from the i-th run, in which both ran one after the other.
func perRun(p pair) []float64 {
	k, r := p.kpf.samples["ns/op"], p.ref.samples["ns/op"]
	n := min(len(k), len(r))
	out := make([]float64, n)
	for i := range n {
		out[i] = r[i] / k[i]
	}
	return out
}

func times(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) + "×" }

type pair struct {
	name     string
	kpf, ref *bench
}

// pairsOf finds X/kpf and X/reference of the same package, in input order.
func pairsOf(res *results) []pair {
	var ps []pair
	for _, b := range res.benches {
		base, ok := strings.CutSuffix(b.name, "/kpf")
		if !ok {
			continue
		}
		for _, r := range res.benches {
			if r.pkg == b.pkg && r.name == base+"/reference" {
				ps = append(ps, pair{name: base, kpf: b, ref: r})
			}
		}
	}
	return ps
}

func find(res *results, name string) *bench {
	for _, b := range res.benches {
		if b.name == name {
			return b
		}
	}
	return nil
}
