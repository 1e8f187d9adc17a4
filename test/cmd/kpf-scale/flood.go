//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/test/internal/measure"
)

// floodResult is how the connections of one flood ended.
type floodResult struct {
	served, refused, failed atomic.Int64
	firstErr                atomic.Value
	opened                  time.Duration // until every connection was answered or closed
}

// measureFlood (native): two forwards in one agent; --flood connections
// opened at once on f000 by a child process, each held until all were
// tried, while f001 is fetched from every 20 ms, `kpf status` runs in a
// loop and a second child times the agent's own answer to the status
// request every 20 ms (child.go says why children). It reports the
// connections served, refused (f000's default max_connections) and failed,
// the failed fetches on f001, the latency of `kpf status`, and the
// agent's RSS before the flood and with every served connection open.
func (r *run) measureFlood(ctx context.Context) error {
	if err := r.use("flood"); err != nil {
		return err
	}
	if err := r.writeWorkspace(r.targets, 2, r.opts.basePort+3000); err != nil {
		return err
	}
	defer r.destroy()
	if _, _, _, err := r.timed(ctx, "apply"); err != nil {
		return err
	}
	if err := r.waitAllServe(ctx, 60*time.Second); err != nil {
		return err
	}
	st, err := r.readState()
	if err != nil {
		return err
	}
	flooded, other := st.Forwards["f000"], st.Forwards["f001"]
	pid := r.agentPID(ctx)
	rssBefore, _, err := procMemory(pid)
	if err != nil {
		return err
	}
	dir, err := r.workspaceStateDir()
	if err != nil {
		return err
	}
	hs := make([]runtime.Handle, 0, len(st.Forwards))
	for _, f := range st.Forwards {
		hs = append(hs, f.Handle)
	}
	prober, err := startChild(ctx, childAgentStatus, dir)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(prober.stdin).Encode(hs); err != nil {
		return errors.Join(err, prober.finish(nil))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fetches, fetchFails atomic.Int64
	var fetchErr atomic.Value
	var statusTook []time.Duration
	var statusFails int
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.fetchLoop(ctx, other.LocalPort, stop, &fetches, &fetchFails, &fetchErr)
	}()
	go func() {
		defer wg.Done()
		statusTook, statusFails = r.statusLoop(ctx, stop)
	}()
	var res floodReport
	cpu0 := ticksOf(pid)
	flooder, err := startChild(ctx, childFlood, strconv.Itoa(flooded.LocalPort), strconv.Itoa(r.opts.flood))
	if err == nil {
		err = flooder.read(&res)
	}
	rssPeak, _, _ := procMemory(pid)
	floodCPU := time.Duration(ticksOf(pid)-cpu0) * time.Second / measure.ClockTicks
	if flooder != nil {
		err = errors.Join(err, flooder.finish(nil))
	}
	close(stop)
	wg.Wait()
	var agent timingReport
	if perr := prober.finish(&agent); perr != nil {
		return errors.Join(err, perr)
	}
	if err != nil {
		return err
	}
	agentTook, agentFails := agent.Took, agent.Failed
	refusedSeen, lastErr := r.refusedInStatus(ctx, "f000")

	r.add(fmt.Sprintf("flood of %d connections at once on one forward (max_connections default)", r.opts.flood),
		fmt.Sprintf("%d served, %d refused, %d failed", res.Served, res.Refused, res.Failed),
		"the excess refused at once",
		fmt.Sprintf("all answered or closed within %s; kpf status counted %s refused (the rest of the closed ones were accepted, then failed: last error %q); agent RSS %s before, %s with the served ones open; the agent used %s of CPU until then%s",
			fmtDur(res.Opened), refusedSeen, lastErr, fmtMB(rssBefore), fmtMB(rssPeak), fmtDur(floodCPU), firstErrText(res.FirstErr)))
	r.add("another forward of the agent during the flood: failed fetches", fmt.Sprintf("%d of %d", fetchFails.Load(), fetches.Load()), "0",
		"one GET every 20 ms"+firstErrNote(&fetchErr))
	slices.Sort(statusTook)
	if len(statusTook) > 0 {
		r.add("`kpf status` during the flood: p50 / max", fmtDur(measure.Percentile(statusTook, 50))+" / "+fmtDur(statusTook[len(statusTook)-1]), "answers",
			fmt.Sprintf("%d runs, %d failed; the whole process: its start-up, the kubeconfig, the agent's answer", len(statusTook), statusFails))
	}
	slices.Sort(agentTook)
	if len(agentTook) > 0 {
		r.add("the agent's answer to a status request during the flood: p50 / p99 / max",
			fmtDur(measure.Percentile(agentTook, 50))+" / "+fmtDur(measure.Percentile(agentTook, 99))+" / "+fmtDur(agentTook[len(agentTook)-1]), "≤ 100 ms",
			fmt.Sprintf("%d requests (every forward's status, as kpf status asks), one every 20 ms, %d failed", len(agentTook), agentFails))
	}
	return nil
}

// timedLoop calls fn every period (0: back to back) until stop is closed
// or ctx ends, and returns how long each call that succeeded took and how
// many failed.
func timedLoop(ctx context.Context, stop <-chan struct{}, period time.Duration, fn func() error) (took []time.Duration, failed int) {
	// stopped is checked before every call, after the wait for a tick
	// too: with stop closed, a select that also has a tick ready may pick
	// the tick, and fn would run after stop.
	stopped := func() bool {
		select {
		case <-stop:
			return true
		case <-ctx.Done():
			return true
		default:
			return false
		}
	}
	var tick <-chan time.Time
	if period > 0 {
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	for !stopped() {
		if tick != nil {
			select {
			case <-stop:
			case <-ctx.Done():
			case <-tick:
			}
			if stopped() {
				break
			}
		}
		t0 := time.Now()
		if err := fn(); err != nil {
			failed++
			continue
		}
		took = append(took, time.Since(t0))
	}
	return took, failed
}

// allKnown reports whether the agent answered for every forward: it serves
// each.
func allKnown(sts []runtime.Status) bool {
	for _, s := range sts {
		if !s.Alive {
			return false
		}
	}
	return true
}

func firstErrNote(v *atomic.Value) string {
	e, _ := v.Load().(string)
	return firstErrText(e)
}

func firstErrText(e string) string {
	if e == "" {
		return ""
	}
	return "; first error: " + e
}

// flood opens n connections to port at once; a served one (it got a byte)
// is held until release is closed. It returns once every connection was
// served, refused (closed without a byte) or failed.
func flood(ctx context.Context, port, n int, release <-chan struct{}) *floodResult {
	res := &floodResult{}
	var wg sync.WaitGroup
	t0 := time.Now()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range n {
		wg.Add(1)
		go func() {
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			c, err := d.DialContext(dctx, "tcp", addr)
			if errors.Is(err, syscall.ECONNRESET) { // refused: reset before the connect returned
				res.refused.Add(1)
				wg.Done()
				return
			}
			if err != nil {
				res.failed.Add(1)
				res.firstErr.CompareAndSwap(nil, err.Error())
				wg.Done()
				return
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			k, err := c.Read(make([]byte, 1))
			switch {
			case k > 0:
				res.served.Add(1)
			case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
				res.refused.Add(1)
			default:
				res.failed.Add(1)
				res.firstErr.CompareAndSwap(nil, fmt.Sprint(err))
			}
			wg.Done()
			if k > 0 {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
	res.opened = time.Since(t0)
	return res
}

// fetchLoop GETs through port every 20 ms until stop is closed.
func (r *run) fetchLoop(ctx context.Context, port int, stop <-chan struct{}, n, failed *atomic.Int64, firstErr *atomic.Value) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		n.Add(1)
		if _, _, err := fetch(ctx, port, 10*time.Second); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	}
}

// statusLoop runs `kpf status --json` back to back until stop is closed.
func (r *run) statusLoop(ctx context.Context, stop <-chan struct{}) (took []time.Duration, failed int) {
	return timedLoop(ctx, stop, 0, func() error { return r.kpfCmd(ctx, "status", "--json").Run() })
}

// refusedInStatus is the refused_connections and last_error `kpf status
// --json` shows for name ("?" when it cannot tell).
func (r *run) refusedInStatus(ctx context.Context, name string) (refused, lastErr string) {
	out, err := r.kpfCmd(ctx, "status", "--json").Output()
	if err != nil {
		return "?", "?"
	}
	var st struct {
		Forwards []struct {
			Name      string `json:"name"`
			Refused   *int64 `json:"refused_connections"`
			LastError string `json:"last_error"`
		} `json:"forwards"`
	}
	if json.Unmarshal(out, &st) != nil {
		return "?", "?"
	}
	for _, f := range st.Forwards {
		if f.Name == name && f.Refused != nil {
			return strconv.FormatInt(*f.Refused, 10), f.LastError
		}
	}
	return "?", "?"
}
