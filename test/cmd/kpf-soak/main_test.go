//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/test/cluster"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.forwards != 100 || o.watch || o.duration != 30*time.Minute || len(o.faults) != len(faults) {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{name: "a subset in its order", args: []string{"--faults", "rollout, pod-delete", "--watch", "--duration", "2m"}, check: func(t *testing.T, o options) {
			if strings.Join(o.faults, ",") != "rollout,pod-delete" || !o.watch || o.duration != 2*time.Minute {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "unknown fault", args: []string{"--faults", "pod-delete,meteor"}, wantErr: `unknown fault "meteor"`},
		{name: "no forwards", args: []string{"--forwards", "0"}, wantErr: "must be positive"},
		{name: "no duration", args: []string{"--duration", "0s"}, wantErr: "must be positive"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestCorrupted(t *testing.T) {
	t.Parallel()
	want := payload(7, 1000)
	flipped := append([]byte(nil), want...)
	flipped[10] ^= 1
	flipped[999] ^= 0x80
	tests := []struct {
		name string
		got  []byte
		bad  int64
	}{
		{"all of it", want, 0},
		{"a true prefix (a cut stream)", want[:500], 0},
		{"nothing", nil, 0},
		{"two bytes flipped", flipped, 2},
		{"a flipped prefix", flipped[:11], 1},
		{"another stream's bytes", payload(8, 1000), 996}, // ~1/256 agree by chance
		{"more than was sent", append(append([]byte(nil), want...), 'x', 'y'), 2},
	}
	for _, tt := range tests {
		if got := corrupted(want, tt.got); tt.name == "another stream's bytes" && (got < 950 || got > 1000) || tt.name != "another stream's bytes" && got != tt.bad {
			t.Errorf("%s: corrupted = %d, want %d", tt.name, got, tt.bad)
		}
	}
	if string(payload(7, 1000)) != string(want) {
		t.Error("payload is not deterministic")
	}
}

// newBackend is the real test backend of a pod named name (test/cluster's
// server: HTTP answers with the name, else a greeting and an echo).
func newBackend(t *testing.T, name string) *cluster.Server {
	t.Helper()
	s, err := cluster.NewServer(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFetchAndStreamThroughTheBackend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newBackend(t, "echo-0-abc")
	body, err := fetch(ctx, srv.Port(), 10*time.Second)
	if err != nil || body != "echo-0-abc\n" {
		t.Fatalf("fetch = %q, %v", body, err)
	}
	want := payload(1, 1<<20)
	got, err := stream(ctx, srv.Port(), want)
	if err != nil || corrupted(want, got) != 0 || len(got) != len(want) {
		t.Fatalf("stream: %d of %d bytes, %d corrupted, %v", len(got), len(want), corrupted(want, got), err)
	}
	// Through a proxy that flips a bit now and then, the stream is caught.
	p := newFlipProxy(t, srv.Port())
	got, err = stream(ctx, p, want)
	if err != nil || corrupted(want, got) == 0 {
		t.Fatalf("stream through a corrupting proxy: %d corrupted, %v", corrupted(want, got), err)
	}
}

// newFlipProxy forwards 127.0.0.1:port and flips a bit in every 1000th
// byte of the echo after the first line; it returns its own port.
func newFlipProxy(t *testing.T, port int) int {
	return newProxy(t, port, func(c, up net.Conn) {
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() {
			defer c.Close()
			buf, seen, greeted := make([]byte, 32<<10), 0, false
			for {
				n, err := up.Read(buf)
				for i := range n {
					if greeted {
						if seen++; seen%1000 == 0 {
							buf[i] ^= 1
						}
					} else if buf[i] == '\n' {
						greeted = true
					}
				}
				if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
					return
				}
			}
		}()
	})
}

// newProxy listens on 127.0.0.1 and, for every connection c, dials
// 127.0.0.1:port and hands both ends to carry, which copies between them
// and closes them; it returns its own port.
func newProxy(t *testing.T, port int, carry func(c, up net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				c.Close()
				continue
			}
			carry(c, up)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestIdleConn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newBackend(t, "echo-1-xyz")
	cutc := make(chan error, 1)
	ic, err := openIdle(ctx, srv.Port(), func(err error) { cutc <- err })
	if err != nil {
		t.Fatal(err)
	}
	if bad, err := ic.check([]byte("token one\n")); bad != 0 || err != nil {
		t.Fatalf("check of a live connection: %d bad, %v", bad, err)
	}
	srv.Close() // the pod dies
	select {
	case <-cutc:
	case <-time.After(30 * time.Second):
		t.Fatal("the cut was not noticed")
	}
	if !ic.cut.Load() {
		t.Error("not marked cut")
	}
	if _, err := ic.check([]byte("token two\n")); err == nil {
		t.Error("check of a cut connection succeeded")
	}

	// A connection closed by the soak itself is not a cut.
	srv2 := newBackend(t, "echo-1-uvw")
	ic2, err := openIdle(ctx, srv2.Port(), func(err error) { t.Errorf("closing was taken for a cut: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	ic2.close()
	for range ic2.data {
	}
}

// TestTrafficBooksOnThePhase runs the workers against two real backends,
// then kills one: the failures land on the row set after the kill.
func TestTrafficBooksOnThePhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newBackend(t, "echo-0-a"), newBackend(t, "echo-1-b")
	o := options{httpWorkers: 2, streamWorkers: 1, streamBytes: 64 << 10, deployments: 2}
	calm := &result{fault: "baseline"}
	tr := newTraffic([]int{a.Port(), b.Port()}, o, hclog.NewNullLogger(), calm)
	stop := tr.start(ctx)
	defer stop()
	if err := tr.reopenIdle(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return calm.requests.Load() >= 10 && calm.streams.Load() >= 2 })
	killed := &result{fault: "pod-delete"}
	tr.setPhase(killed)
	b.Close()
	waitFor(t, func() bool { return killed.failed.Load() >= 2 && killed.idleCut.Load() == 1 })
	if calm.failed.Load() != 0 || calm.corrupt.Load() != 0 || calm.cut.Load() != 0 || calm.idleCut.Load() != 0 {
		t.Errorf("calm phase: %d failed, %d corrupt, %d cut, %d idle cut (%s)", calm.failed.Load(), calm.corrupt.Load(), calm.cut.Load(), calm.idleCut.Load(), firstErr(calm))
	}
	end := &result{fault: "end"}
	tr.setPhase(end)
	checked, failed := tr.checkIdle(ctx)
	if checked != 1 || failed != 0 || end.corrupt.Load() != 0 {
		t.Errorf("checkIdle = %d checked, %d failed, %d corrupt", checked, failed, end.corrupt.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 60 s")
		}
	}
}

// TestFloodAndSlowReader runs the two faults on one forward against a real
// backend: both end, and the backend serves on.
func TestFloodAndSlowReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newBackend(t, "echo-0-f")
	s := &soak{ports: []int{srv.Port()}, opts: options{floodConns: 300}}
	target, err := flood(ctx, s, 0)
	if err != nil || !strings.Contains(target, "300 of 300 connections opened") {
		t.Errorf("flood: %q, %v", target, err)
	}
	target, err = slowReader(ctx, s, 0)
	if err != nil || !strings.Contains(target, "never read, then writes blocked") {
		t.Errorf("slow reader: %q, %v", target, err)
	}
	if err := waitAllServe(ctx, s.ports, time.Minute); err != nil {
		t.Error(err)
	}
}

func TestCheckGoals(t *testing.T) {
	t.Parallel()
	o := options{faults: []string{"pod-delete", "agent-kill"}, recoverWithin: time.Minute, rssSlack: 0.5, rssSlackMB: 16, fdSlack: 32}
	row := func(fault string, ok bool, mod func(r *result)) *result {
		r := &result{fault: fault, ok: ok, pid: 42, rss: 40 << 20, fds: 100}
		if mod != nil {
			mod(r)
		}
		return r
	}
	tests := []struct {
		name   string
		rows   []*result
		missed []string // the goals missed, by a word of theirs
	}{
		{"all met, failures during a kill are no goal", []*result{
			row("baseline", false, nil), row("pod-delete", true, nil),
			row("agent-kill", true, func(r *result) { r.failed.Add(50); r.idleCut.Add(100); r.pid = 43 }),
			row("end", false, func(r *result) { r.rss = 70 << 20; r.fds = 130; r.idleChecked = 100 }),
		}, nil},
		{"failures through a pod deletion", []*result{
			row("baseline", false, nil), row("pod-delete", true, func(r *result) { r.failed.Add(1) }), row("agent-kill", true, nil), row("end", false, nil),
		}, []string{"zero failed requests"}},
		{"corruption, no recovery, leaks", []*result{
			row("baseline", false, nil), row("pod-delete", false, func(r *result) { r.corrupt.Add(3) }),
			row("end", false, func(r *result) { r.rss = 80 << 20; r.fds = 200; r.idleChecked, r.idleFailed = 10, 1 }),
		}, []string{"corrupted", "recovered within", "chosen fault ran", "RSS", "fds", "idle connection still open"}},
		{"no agent at the end", []*result{row("baseline", false, nil), row("pod-delete", true, nil), row("agent-kill", true, nil), row("end", false, func(r *result) { r.pid = 0 })},
			[]string{"agent measured"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, g := range checkGoals(tt.rows, o) {
				if !g.ok {
					got = append(got, g.what)
				}
			}
			if len(got) != len(tt.missed) {
				t.Fatalf("missed %q, want %d: %q", got, len(tt.missed), tt.missed)
			}
			for i, w := range tt.missed {
				if !strings.Contains(got[i], w) {
					t.Errorf("missed goal %d = %q, want one about %q", i, got[i], w)
				}
			}
		})
	}
}

// Idle connections cut by a slow reader are reported, and count as a
// missed goal only with --isolation-goal.
func TestIsolationGoalReportedUnlessAsked(t *testing.T) {
	t.Parallel()
	rows := []*result{
		{fault: "baseline", pid: 42, rss: 40 << 20, fds: 100},
		{fault: "slow-reader", ok: true, pid: 42, rss: 40 << 20, fds: 100},
		{fault: "end", pid: 42, rss: 40 << 20, fds: 100},
	}
	rows[1].idleCut.Add(10)
	for _, strict := range []bool{false, true} {
		o := options{faults: []string{"slow-reader"}, recoverWithin: time.Minute, rssSlack: 0.5, rssSlackMB: 16, fdSlack: 32, isolationGoal: strict}
		goals := checkGoals(rows, o)
		want := 0
		if strict {
			want = 1
		}
		if got := missed(goals); got != want {
			t.Errorf("isolation goal %v: %d missed, want %d:%s", strict, got, want, renderGoals(goals))
		}
		if out := renderGoals(goals); !strings.Contains(out, "slow-reader: 10") {
			t.Errorf("isolation goal %v: the cut connections are not shown:%s", strict, out)
		}
	}
}

func TestRenderTable(t *testing.T) {
	t.Parallel()
	o := options{forwards: 100, deployments: 10, httpWorkers: 4, streamWorkers: 2, streamBytes: 256 << 10, recoverWithin: time.Minute, gap: 10 * time.Second}
	base := &result{fault: "baseline", pid: 7, rss: 40 << 20, fds: 120}
	base.requests.Add(300)
	kill := &result{fault: "agent-kill", target: "agent pid 7", took: 20 * time.Millisecond, recovered: 1500 * time.Millisecond, ok: true, pid: 9, rss: 42 << 20, fds: 118}
	kill.requests.Add(200)
	kill.fail(errInjected)
	kill.fail(errInjected)
	freeze := &result{fault: "kubelet-freeze", target: "kwok stopped 5 s", note: "not | every forward\nserved"}
	end := &result{fault: "end", pid: 9, rss: 41 << 20, fds: 121, idleChecked: 100, idleFailed: 1}
	out := renderTable([]*result{base, kill, freeze, end}, o)
	for _, want := range []string{
		"100 native forwards under `kpf apply` over 10 deployments",
		"| 0 | baseline | ",
		"| 1 | agent-kill | agent pid 7 | 20 ms | 1.5 s | 2 of 200 | 0 | 0 of 0 | 0 | 0 | 42.0 MB (+2.0), pid 9 | 118 (-2) | injected |",
		"| 2 | kubelet-freeze | kwok stopped 5 s | 0 ms | not within 60.0 s",
		"not / every forward served |",
		"idle check: 99 of 100 connections echoed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n| "); n != 5 { // the header and 4 rows
		t.Errorf("%d table lines:\n%s", n, out)
	}
}

var errInjected = errors.New("injected")

func TestProcReaders(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	fds, err := procFDs(pid)
	if err != nil || fds < 3 {
		t.Errorf("procFDs = %d, %v", fds, err)
	}
	if st := procState(pid); st != "R" && st != "S" {
		t.Errorf("procState of self = %q", st)
	}
	if st := procState(-1); st != "" {
		t.Errorf("procState of no process = %q", st)
	}
}

// TestRunsBinary: the agent kill only signals a pid that runs kpf.
func TestRunsBinary(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pid  int
		bin  string
		ok   bool
	}{
		{"its own binary", os.Getpid(), self, true},
		{"another binary", os.Getpid(), "/bin/sh", false},
		{"no such process", -1, self, false},
		{"no such binary", os.Getpid(), "/nonexistent/kpf", false},
	}
	for _, tt := range tests {
		if err := runsBinary(tt.pid, tt.bin); (err == nil) != tt.ok {
			t.Errorf("%s: runsBinary = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestWriteWorkspace loads the soak's kpf.hcl with kpf's own loader.
func TestWriteWorkspace(t *testing.T) {
	t.Parallel()
	s := &soak{opts: options{forwards: 25, deployments: 10, basePort: 24000}, wsDir: t.TempDir()}
	if err := s.writeWorkspace(); err != nil {
		t.Fatal(err)
	}
	ws, diags := spec.Load(spec.LoadOptions{Dir: s.wsDir})
	if diags.HasErrors() {
		t.Fatalf("the soak's workspace does not load: %s", diags.Error())
	}
	if len(ws.Forwards) != 25 {
		t.Fatalf("%d forwards, want 25", len(ws.Forwards))
	}
	f := ws.Forwards[12]
	if f.Name != "f012" || f.Target.Name != "echo-2" || f.LocalPort != 24012 || ws.Settings.Runtime != "native" {
		t.Errorf("forward 12: %+v, runtime %q", f, ws.Settings.Runtime)
	}
}

// TestLateRequestIsNotAFailure: a request that reaches the backend over
// 200 ms after its connection gets the greeting; it is booked late, not
// failed.
func TestLateRequestIsNotAFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newBackend(t, "echo-0-late")
	port := newDelayProxy(t, srv.Port(), 400*time.Millisecond)
	_, err := fetch(ctx, port, 10*time.Second)
	var g *greetedError
	if !errors.As(err, &g) || g.line != "echo-0-late" {
		t.Fatalf("fetch through a slow path: %v, want a greeting", err)
	}
	row := &result{fault: "baseline"}
	tr := newTraffic([]int{port}, options{httpWorkers: 1, deployments: 1}, hclog.NewNullLogger(), row)
	stop := tr.start(ctx)
	waitFor(t, func() bool { return row.late.Load() >= 2 })
	stop()
	if row.failed.Load() != 0 {
		t.Errorf("%d failed: %s", row.failed.Load(), firstErr(row))
	}
}

// newDelayProxy forwards 127.0.0.1:port, holding the client's bytes back
// for delay after each connection; it returns its own port.
func newDelayProxy(t *testing.T, port int, delay time.Duration) int {
	return newProxy(t, port, func(c, up net.Conn) {
		go func() { time.Sleep(delay); _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	})
}
