//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime/native/nativetest"
	"github.com/kpf-dev/kpf/test/cluster"
	"github.com/kpf-dev/kpf/test/internal/measure"
	"github.com/kpf-dev/kpf/test/internal/measure/kpfstate"
)

type options struct {
	kpf       string
	base      string
	bulkMiB   int
	rtts      int
	conns     int
	burst     int
	hold      int
	stallMiB  int
	stallReps int
	paths     string
	out       string
	logLevel  string
	namespace string
	gctrace   bool
	kubectl   string
	measures  string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kpf-dataplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kpf, "kpf", "", "kpf binary (default: go build ./cmd/kpf into a temp dir)")
	fs.StringVar(&o.base, "base", "", "a second kpf binary to compare in the same run: paths base-ws and base-spdy")
	fs.IntVar(&o.bulkMiB, "bulk", 64, "MiB per bulk measure each way (one stream; 8 streams carry this ×2 in all)")
	fs.IntVar(&o.rtts, "rtts", 2000, "round trips on one kept-alive connection")
	fs.IntVar(&o.conns, "conns", 300, "new connections, one after the other")
	fs.IntVar(&o.burst, "burst", 1000, "connections opened at once on one forward")
	fs.IntVar(&o.hold, "hold", 500, "connections held open to measure RSS per active connection")
	fs.IntVar(&o.stallMiB, "stall", 64, "MiB the stalled reader sends and never reads")
	fs.IntVar(&o.stallReps, "stall-reps", 5, "rounds of the stalled-reader measure (each: round trips without, then beside, a stalled reader; pooled)")
	fs.StringVar(&o.paths, "paths", "direct,kubectl-ws,kubectl-spdy,kpf-ws,kpf-spdy", "paths to measure, comma-separated (base-ws, base-spdy: kpf native with --base)")
	fs.StringVar(&o.out, "out", "", "also write the table to this file")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of kpf-dataplane itself")
	fs.StringVar(&o.namespace, "namespace", "dataplane", "namespace of the echo pod")
	fs.StringVar(&o.kubectl, "kubectl", "kubectl", "the kubectl binary of the kubectl paths (e.g. one built from the k8s.io modules kpf uses: same Go, same client-go)")
	fs.StringVar(&o.measures, "measures", strings.Join(measureNames, ","), "measures to run, comma-separated")
	fs.BoolVar(&o.gctrace, "gctrace", false, "run kpf's agents with GODEBUG=gctrace=1 and note, per measure, the garbage collections in them")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.stallReps < 1 {
		err := errors.New("--stall-reps must be at least 1")
		fmt.Fprintln(stderr, err)
		return o, err
	}
	for _, m := range strings.Split(o.measures, ",") {
		if !slices.Contains(measureNames, strings.TrimSpace(m)) {
			err := fmt.Errorf("unknown measure %q (measures: %s)", m, strings.Join(measureNames, ", "))
			fmt.Fprintln(stderr, err)
			return o, err
		}
	}
	return o, nil
}

// measureNames are the measures, in the order they run.
var measureNames = []string{"bulk", "round-trips", "new-connections", "at-once", "held-open", "stalled-reader"}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	t := measure.Tool{Name: "kpf-dataplane", LogLevel: o.logLevel, Out: o.out, Failed: "dataplane run failed"}
	return measure.RunTable(t, stdout, stderr, func(ctx context.Context, log hclog.Logger) (string, error) {
		r := &run{opts: o, log: log}
		err := r.main(ctx)
		return r.table(), err
	})
}

// path is one way to reach the pod's port: a local address and the process
// that serves it (0: none, the backend directly).
type path struct {
	key, title string
	addr       string
	bin        string // the kpf binary (kpf paths)
	pid        int
	figs       map[string]string
	stop       func()
	bulkBytes  int64
	bulkTicks  int64
	gcOut      string // the agent's output file, with --gctrace (kpf paths)
	// parts: parts of the measure running now, each with the agent's
	// output file's size when it began and ended (with --gctrace).
	parts []part
}

// part is a named part of a measure, between two sizes of the agent's
// output file.
type part struct {
	name     string
	from, to int64
}

// mark begins part name of the measure running now; the func it returns
// ends it.
func (p *path) mark(name string) func() {
	if p.gcOut == "" {
		return func() {}
	}
	p.parts = append(p.parts, part{name: name, from: p.gcOffset(), to: -1})
	i := len(p.parts) - 1
	return func() { p.parts[i].to = p.gcOffset() }
}

type run struct {
	opts    options
	log     hclog.Logger
	scratch string
	kpf     string
	c       *cluster.Cluster
	pod     string
	paths   []*path
	notes   []string
}

// columns of the table, in order.
var columns = []string{
	"up MiB/s (1 / 8 streams)", "down MiB/s (1 / 8 streams)", "round trip p50 / p99",
	"new connection p50 / p99", "1,000 at once: failed (time)", "round trip p99 beside a stalled reader",
	"RSS per active connection", "CPU s per GiB",
}

func (r *run) table() string {
	if len(r.paths) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| path | %s |\n|---|", strings.Join(columns, " | "))
	for range columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, p := range r.paths {
		fmt.Fprintf(&b, "| %s |", p.title)
		for _, c := range columns {
			f := p.figs[c]
			if f == "" {
				f = "—"
			}
			fmt.Fprintf(&b, " %s |", f)
		}
		b.WriteString("\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func (r *run) main(ctx context.Context) (err error) {
	if r.scratch, err = os.MkdirTemp("", "kpf-dataplane-"); err != nil {
		return fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer os.RemoveAll(r.scratch)
	if r.kpf, err = measure.BuildKpf(ctx, r.opts.kpf, r.scratch); err != nil {
		return err
	}
	r.log.Info("starting the local control plane")
	c, err := cluster.Start(ctx, cluster.Options{Log: r.log.Named("cluster"), StateDir: filepath.Join(r.scratch, "cluster")})
	if c != nil {
		defer measure.Cleanup(r.log, "stopping the cluster", time.Minute, c.Stop)
	}
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	r.c = c
	if err := c.CreateNamespace(ctx, r.opts.namespace); err != nil {
		return err
	}
	if err := c.DeployEcho(ctx, r.opts.namespace, "echo", 1); err != nil {
		return err
	}
	pods, err := c.Pods(ctx, r.opts.namespace, "app=echo")
	if err != nil || len(pods) != 1 {
		return fmt.Errorf("the echo pod: %v %w", pods, err)
	}
	r.pod = pods[0]
	defer func() {
		for _, p := range r.paths {
			if p.stop != nil {
				p.stop()
			}
		}
	}()
	for _, key := range strings.Split(r.opts.paths, ",") {
		p, err := r.open(ctx, strings.TrimSpace(key))
		if err != nil {
			return err
		}
		r.paths = append(r.paths, p)
		r.log.Info("path ready", "path", p.title, "addr", p.addr, "pid", p.pid)
	}
	kubectl := "" // named only when a kubectl path runs
	if slices.ContainsFunc(r.paths, func(p *path) bool { return strings.HasPrefix(p.key, "kubectl-") }) {
		kubectl = " kubectl: " + kubectlVersion(ctx, r.opts.kubectl) + "."
	}
	r.notes = append(r.notes, fmt.Sprintf("One run, %s UTC, on %d CPUs (load average %s); bulk %d MiB each way, %d round trips, %d new connections, %d at once × 3 requests, %d held open, a stalled reader sending %d MiB (%d rounds of %d round trips without it, then beside it, pooled).%s kubefwd: not measured (not in the tools module).",
		time.Now().UTC().Format("2006-01-02 15:04"), nprocs(), measure.LoadAvg(), r.opts.bulkMiB, r.opts.rtts, r.opts.conns, r.opts.burst, r.opts.hold, r.opts.stallMiB, r.opts.stallReps, max(r.opts.rtts/4, 50), kubectl))
	// Each measure runs on every path in turn, so the paths see the same
	// machine within a measure.
	measures := map[string]func(context.Context, *path) error{
		"bulk": r.bulk, "round-trips": r.roundTrips, "new-connections": r.newConns,
		"at-once": r.burstConns, "held-open": r.rss, "stalled-reader": r.stalled,
	}
	chosen := strings.Split(r.opts.measures, ",")
	for _, name := range measureNames {
		if !slices.ContainsFunc(chosen, func(c string) bool { return strings.TrimSpace(c) == name }) {
			continue
		}
		measure, label := measures[name], strings.ReplaceAll(name, "-", " ")
		for _, p := range r.paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			from := p.gcOffset()
			p.parts = nil
			if err := measure(ctx, p); err != nil {
				return fmt.Errorf("%s: %w", p.title, err)
			}
			if p.gcOut != "" {
				note := fmt.Sprintf("%s, %s: %s", p.title, label, p.gcSince(from, -1))
				for _, pt := range p.parts {
					note += fmt.Sprintf("; %s: %s", pt.name, p.gcSince(pt.from, pt.to))
				}
				r.notes = append(r.notes, note)
			}
		}
	}
	for _, p := range r.paths {
		if p.pid > 0 && p.bulkBytes > 0 {
			p.figs[columns[7]] = fmt.Sprintf("%.2f", float64(p.bulkTicks)/measure.ClockTicks/(float64(p.bulkBytes)/(1<<30)))
		}
	}
	return nil
}

// open sets up path key.
func (r *run) open(ctx context.Context, key string) (*path, error) {
	p := &path{key: key, figs: map[string]string{}}
	switch key {
	case "direct":
		p.title = "the backend directly (the floor)"
		addr, err := r.c.BackendAddr(r.opts.namespace, r.pod, 8080)
		if err != nil {
			return nil, err
		}
		p.addr = addr
		return p, nil
	case "kubectl-ws", "kubectl-spdy":
		p.title = "kubectl port-forward, WebSocket"
		ws := "true"
		if key == "kubectl-spdy" {
			p.title, ws = "kubectl port-forward, SPDY", "false"
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(r.opts.kubectl, "--kubeconfig", r.c.Kubeconfig, "--context", r.c.Context, "-n", r.opts.namespace,
			"port-forward", "--address", "127.0.0.1", "pod/"+r.pod, fmt.Sprintf("%d:8080", port))
		cmd.Env = append(os.Environ(), "KUBECTL_PORT_FORWARD_WEBSOCKETS="+ws)
		var out measure.SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting kubectl: %w", err)
		}
		p.pid = cmd.Process.Pid
		p.stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		p.addr = fmt.Sprintf("127.0.0.1:%d", port)
		if err := waitServes(ctx, p.addr, 30*time.Second); err != nil {
			p.stop()
			return nil, fmt.Errorf("%s: %w\n%s", p.title, err, out.String())
		}
		return p, nil
	case "kpf-ws", "kpf-spdy", "base-ws", "base-spdy":
		// kubectl's variable, which kpf reads when KPF_TRANSPORT is not
		// set (a --base kpf from before KPF_TRANSPORT reads it too):
		// true dials WebSocket first, false SPDY only. kpf's default
		// (auto) dials SPDY where the API server accepts it, as here.
		p.title, p.bin = "kpf native, WebSocket", r.kpf
		env := []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=true"}
		if strings.HasSuffix(key, "-spdy") {
			p.title = "kpf native, SPDY (default)"
			env = []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}
		}
		if strings.HasPrefix(key, "base-") {
			if r.opts.base == "" {
				return nil, fmt.Errorf("path %s: no --base binary", key)
			}
			bin, err := filepath.Abs(r.opts.base)
			if err != nil {
				return nil, err
			}
			p.title, p.bin = strings.Replace(p.title, "kpf native", "kpf native (--base)", 1), bin
		}
		return r.openKpf(ctx, p, env)
	}
	return nil, fmt.Errorf("unknown path %q (want direct, kubectl-ws, kubectl-spdy, kpf-ws, kpf-spdy, base-ws, base-spdy)", key)
}

func (r *run) openKpf(ctx context.Context, p *path, extraEnv []string) (*path, error) {
	ws := filepath.Join(r.scratch, p.key)
	st := filepath.Join(r.scratch, p.key+"-state")
	for _, d := range []string{ws, st} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hcl := fmt.Sprintf(`kpf {
  name    = %q
  runtime = "native"
}

forward "echo" {
  context     = %q
  namespace   = %q
  target      = "pod/%s"
  address     = "127.0.0.1"
  local_port  = %d
  remote_port = 8080
  max_connections = %d
}
`, p.key, r.c.Context, r.opts.namespace, r.pod, port, max(4096, 2*r.opts.burst, r.opts.hold+16))
	if err := os.WriteFile(filepath.Join(ws, "kpf.hcl"), []byte(hcl), 0o600); err != nil {
		return nil, err
	}
	env := measure.Env(r.c.Kubeconfig, st, extraEnv...)
	if r.opts.gctrace {
		// The Go runtime of kpf apply, the supervisor and the serving
		// agent prints a line per collection to stderr; the latter two's
		// reaches logs/agent.out.
		env = append(env, "GODEBUG=gctrace=1")
	}
	kpf := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, p.bin, append([]string{"-C", ws}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("kpf %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := kpf(ctx, "apply"); err != nil {
		return nil, err
	}
	p.stop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := kpf(dctx, "destroy"); err != nil {
			r.log.Warn("kpf destroy", "error", err)
		}
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitServes(ctx, p.addr, 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	dir, err := kpfstate.Dir(st, ws)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.pid = nativetest.AgentPID(ctx, dir)
	if p.pid == 0 {
		p.stop()
		return nil, errors.New("no agent runs after kpf apply")
	}
	if r.opts.gctrace {
		p.gcOut = filepath.Join(dir, "logs", "agent.out")
	}
	return p, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("picking a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitServes retries one HTTP request until it gets an answer.
func waitServes(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		var c net.Conn
		if c, err = dial(ctx, addr); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = roundTrip(c, bufio.NewReader(c), false)
			c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer from %s within %s: %w", addr, timeout, err)
}

func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

var request = []byte("GET / HTTP/1.1\r\nHost: dataplane\r\n\r\n")
var requestClose = []byte("GET / HTTP/1.1\r\nHost: dataplane\r\nConnection: close\r\n\r\n")

// errNotHTTP is an answer that is not HTTP: the backend greeted first, so
// the request reached it more than 200 ms after the connection opened.
var errNotHTTP = errors.New("the answer is not HTTP: the request reached the pod more than 200 ms after the connection")

// roundTrip sends one HTTP request on c and reads the whole answer.
func roundTrip(c net.Conn, br *bufio.Reader, closeAfter bool) (time.Duration, error) {
	t0 := time.Now()
	req := request
	if closeAfter {
		req = requestClose
	}
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	head, err := br.Peek(5)
	if err != nil {
		return 0, err
	}
	if string(head) != "HTTP/" {
		return 0, errNotHTTP
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(t0), err
}

// bulk measures MiB/s each way, one stream and 8 at once, and the serving
// process's CPU over them.
func (r *run) bulk(ctx context.Context, p *path) error {
	size := int64(r.opts.bulkMiB) << 20
	for _, dir := range []string{"up", "down"} {
		end := p.mark(fmt.Sprintf("%s (%d MiB)", dir, 3*r.opts.bulkMiB))
		var figs []string
		for _, streams := range []int{1, 8} {
			per := size / 4
			if streams == 1 {
				per = size
			}
			t0 := time.Now()
			ticks0, _ := measure.CPUTicks(p.pid) // 0 for the direct path: no process
			var wg sync.WaitGroup
			errs := make([]error, streams)
			for i := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = transfer(ctx, p.addr, dir, per)
				}()
			}
			wg.Wait()
			took := time.Since(t0)
			ticks1, _ := measure.CPUTicks(p.pid)
			p.bulkTicks += ticks1 - ticks0
			p.bulkBytes += per * int64(streams)
			if err := errors.Join(errs...); err != nil {
				figs = append(figs, "failed")
				r.log.Warn("bulk", "path", p.title, "dir", dir, "streams", streams, "error", err)
				continue
			}
			figs = append(figs, fmt.Sprintf("%.0f", float64(per*int64(streams))/(1<<20)/took.Seconds()))
		}
		col := columns[0]
		if dir == "down" {
			col = columns[1]
		}
		p.figs[col] = strings.Join(figs, " / ")
		end()
		r.log.Info("measured", "path", p.title, "what", col, "figure", p.figs[col])
	}
	return nil
}

// transfer carries n bytes to the sink (up) or from the source (down).
func transfer(ctx context.Context, addr, dir string, n int64) error {
	c, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if dir == "down" {
		if _, err := c.Write(binary.BigEndian.AppendUint64([]byte(cluster.SourceRequest), uint64(n))); err != nil {
			return err
		}
		got, err := io.CopyN(io.Discard, c, n)
		if err != nil {
			return fmt.Errorf("down: %d of %d bytes: %w", got, n, err)
		}
		return nil
	}
	if _, err := io.WriteString(c, cluster.SinkRequest); err != nil {
		return err
	}
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		var sent int64
		for sent < n {
			m, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
			sent += int64(m)
			if err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	acks := n / cluster.SinkAckEvery
	if got, err := io.CopyN(io.Discard, c, acks); err != nil {
		return fmt.Errorf("up: %d of %d acks: %w", got, acks, err)
	}
	return <-werr
}

// roundTrips measures HTTP round trips on one kept-alive connection.
func (r *run) roundTrips(ctx context.Context, p *path) error {
	c, err := dial(ctx, p.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	ds, err := roundTripsOn(c, r.opts.rtts)
	if err != nil {
		p.figs[columns[2]] = fmt.Sprintf("failed after %d: %s", len(ds), shortErr(err))
		return nil
	}
	p.figs[columns[2]] = p50p99(ds)
	r.log.Info("measured", "path", p.title, "what", columns[2], "figure", p.figs[columns[2]])
	return nil
}

// newConns measures a new connection: dial, one request, the whole answer.
func (r *run) newConns(ctx context.Context, p *path) error {
	ds := make([]time.Duration, 0, r.opts.conns)
	failed := 0
	for range r.opts.conns {
		t0 := time.Now()
		c, err := dial(ctx, p.addr)
		if err != nil {
			failed++
			continue
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = roundTrip(c, bufio.NewReader(c), true)
		c.Close()
		if err != nil {
			failed++
			continue
		}
		ds = append(ds, time.Since(t0))
	}
	if len(ds) == 0 {
		p.figs[columns[3]] = "all failed"
		return nil
	}
	p.figs[columns[3]] = p50p99(ds)
	if failed > 0 {
		p.figs[columns[3]] += fmt.Sprintf(" (%d failed)", failed)
	}
	r.log.Info("measured", "path", p.title, "what", columns[3], "figure", p.figs[columns[3]])
	return nil
}

// burstConns opens --burst connections at once, 3 requests each.
func (r *run) burstConns(ctx context.Context, p *path) error {
	n := r.opts.burst
	release := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			c, err := dial(ctx, p.addr)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			for range 3 {
				if _, err := roundTrip(c, br, false); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	t0 := time.Now()
	close(release)
	wg.Wait()
	took := time.Since(t0)
	late, other := 0, 0
	var firstOther error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, errNotHTTP):
			late++
		default:
			other++
			if firstOther == nil {
				firstOther = err
			}
		}
	}
	p.figs[columns[4]] = fmt.Sprintf("%d (%.2f s)", late+other, took.Seconds())
	if other > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%s, %d at once: %d first bytes late, %d other errors (first: %v)", p.title, n, late, other, firstOther))
	}
	r.log.Info("measured", "path", p.title, "what", columns[4], "figure", p.figs[columns[4]])
	// Let the path settle (connections close, tunnels' streams end).
	return measure.Sleep(ctx, 2*time.Second)
}

// rss measures the serving process's RSS per active connection.
func (r *run) rss(ctx context.Context, p *path) error {
	if p.pid == 0 {
		return nil
	}
	before, _ := measure.RSS(p.pid)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range r.opts.hold {
		c, err := dial(ctx, p.addr)
		if err != nil {
			p.figs[columns[6]] = "failed: " + shortErr(err)
			return nil
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := roundTrip(c, bufio.NewReader(c), false); err != nil {
			p.figs[columns[6]] = "failed: " + shortErr(err)
			return nil
		}
	}
	after, _ := measure.RSS(p.pid)
	p.figs[columns[6]] = fmt.Sprintf("%.1f KiB", float64(after-before)/float64(r.opts.hold)/1024)
	r.log.Info("measured", "path", p.title, "what", columns[6], "figure", p.figs[columns[6]])
	return nil
}

// stalled measures round trips on one connection while a second one to
// the same pod sends and never reads its echo, beside as many round trips
// on a fresh connection just before (without it), in --stall-reps rounds
// whose round trips are pooled: a p99 of a few hundred round trips moves
// by more than 10 % between two such sets on a quiet machine, so the
// figure is read against its own baseline, taken in turn with it. The
// round trips begin 1 s after the stalled reader: kpf has reset it by then
// (after its stall timeout), so they measure what its stall leaves behind;
// a kubectl is still blocked.
func (r *run) stalled(ctx context.Context, p *path) error {
	n := max(r.opts.rtts/4, 50)
	var with, without []time.Duration
	for range r.opts.stallReps {
		w, wo, failed, err := r.stalledRound(ctx, p, n)
		if err != nil {
			return err
		}
		if failed != "" {
			p.figs[columns[5]] = failed
			r.log.Info("measured", "path", p.title, "what", columns[5], "figure", failed)
			return nil
		}
		with, without = append(with, w...), append(without, wo...)
	}
	slices.Sort(with)
	slices.Sort(without)
	p99, base := measure.Percentile(with, 99), measure.Percentile(without, 99)
	p.figs[columns[5]] = fmt.Sprintf("%s (without: %s, %+.0f %%)", fmtMs(p99), fmtMs(base), 100*(float64(p99)/float64(base)-1))
	r.log.Info("measured", "path", p.title, "what", columns[5], "figure", p.figs[columns[5]],
		"round_trips", len(with), "max", fmtMs(with[len(with)-1]), "max_without", fmtMs(without[len(without)-1]))
	return nil
}

// stalledRound is one round of stalled: n round trips without a stalled
// reader, then n beside one. failed says why the round has no figure (the
// round trips got no answer: blocked).
func (r *run) stalledRound(ctx context.Context, p *path, n int) (with, without []time.Duration, failed string, err error) {
	// The previous round's (or path's) stalled reader may still be
	// echoing through the pod (a kubectl blocked by it is): let it end
	// first.
	if err := measure.Sleep(ctx, 2*time.Second); err != nil {
		return nil, nil, "", err
	}
	without, err = roundTripsFresh(ctx, p.addr, n)
	if err != nil {
		return nil, nil, "failed without a stalled reader: " + shortErr(err), nil
	}
	stall, err := dial(ctx, p.addr)
	if err != nil {
		return nil, nil, "", err
	}
	defer stall.Close()
	// The echo greets after 200 ms of silence; then it echoes.
	_ = stall.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := bufio.NewReader(stall).ReadString('\n'); err != nil {
		return nil, nil, "the stalled reader got no greeting: " + shortErr(err), nil
	}
	go func() {
		buf := make([]byte, 256<<10)
		_ = stall.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		for sent := 0; sent < r.opts.stallMiB<<20; sent += len(buf) {
			if _, err := stall.Write(buf); err != nil {
				return
			}
		}
	}()
	if err := measure.Sleep(ctx, time.Second); err != nil {
		return nil, nil, "", err
	}
	c, err := dial(ctx, p.addr)
	if err != nil {
		return nil, nil, "failed: " + shortErr(err), nil
	}
	defer c.Close()
	defer p.mark("while the round trips ran")()
	with, err = roundTripsOn(c, n)
	if err != nil {
		return nil, nil, fmt.Sprintf("blocked (after %d round trips: %v)", len(with), shortErr(err)), nil
	}
	return with, without, "", nil
}

// roundTripsFresh makes n round trips on a fresh connection to addr.
func roundTripsFresh(ctx context.Context, addr string, n int) ([]time.Duration, error) {
	c, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return roundTripsOn(c, n)
}

// roundTripsOn makes n HTTP round trips on kept-alive connection c and
// returns their times, in order (those made before a failure, with it).
func roundTripsOn(c net.Conn, n int) ([]time.Duration, error) {
	br := bufio.NewReader(c)
	ds := make([]time.Duration, 0, n)
	for range n {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		d, err := roundTrip(c, br, false)
		if err != nil {
			return ds, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func shortErr(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer in 5 s"
	}
	return err.Error()
}

func p50p99(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmtMs(measure.Percentile(s, 50)) + " / " + fmtMs(measure.Percentile(s, 99))
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func nprocs() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// kubectlVersion names the kubectl binary the kubectl paths run: its path,
// its version and the Go that built it (kubectl version --client), or why
// they could not be read.
func kubectlVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version", "--client", "-o", "json").Output()
	if err != nil {
		return fmt.Sprintf("%s (version unknown: %v)", bin, err)
	}
	var v struct {
		ClientVersion struct {
			GitVersion string `json:"gitVersion"`
			GoVersion  string `json:"goVersion"`
		} `json:"clientVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Sprintf("%s (version unknown: %v)", bin, err)
	}
	return fmt.Sprintf("%s %s, built with %s", bin, v.ClientVersion.GitVersion, v.ClientVersion.GoVersion)
}
