//go:build linux || darwin

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/internal/testwait"
	"github.com/kpf-dev/kpf/reconcile"
)

// liveSpec is two forwards run by the fake kubectl: api with a TCP health
// check (the fake listens), web without; off is disabled.
func liveSpec(api, web int) string {
	return fmt.Sprintf(`
kpf {
  runtime = "kubectl"
}
defaults {
  context   = "kind-dev"
  namespace = "shop"
}
forward "api" {
  target      = "service/api"
  local_port  = %d
  remote_port = "http"
  open        = "/docs"
}
forward "web" {
  target      = "deployment/web"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
forward "off" {
  target      = "service/off"
  remote_port = 80
  enabled     = false
}
`, api, web)
}

// appliedWorkspace is a workspace of liveSpec, applied with the fake
// kubectl; its forwards are destroyed when the test ends.
func appliedWorkspace(t *testing.T) (dir string, c *cli, api, web int) {
	t.Helper()
	dir = t.TempDir()
	api, web = testutil.FreePort(t), testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", liveSpec(api, web))
	c = newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	return dir, c, api, web
}

// testApp is an app as run() sets it up, for calling its methods directly.
func testApp(t *testing.T, c *cli, dir string) *app {
	t.Helper()
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	a := &app{
		io:     streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard},
		getenv: func(k string) string { return c.env[k] },
		log:    hclog.NewNullLogger(),
		logOut: &swapWriter{w: io.Discard},
	}
	a.opts.Dir, a.opts.LogLevel = dir, "warn"
	return a
}

func TestStatusWithoutSpec(t *testing.T) {
	dir, c, api, _ := appliedWorkspace(t)
	if err := os.Rename(filepath.Join(dir, "kpf.hcl"), filepath.Join(t.TempDir(), "kpf.hcl")); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := c.run("-C", dir, "status")
	if code != exitOK {
		t.Fatalf("status without spec files: exit %d, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "Note: no spec files in this workspace; showing the forwards kpf runs, from its state alone.") {
		t.Errorf("status does not note the missing spec:\n%s", errOut)
	}
	for _, want := range []string{"api", "web", fmt.Sprintf("127.0.0.1:%d", api), "service/api"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "orphaned") || strings.Count(out, "running") != 2 {
		t.Errorf("want both forwards running (not orphaned: there is no spec to be orphaned from):\n%s", out)
	}

	// A broken spec: its diagnostics, then the state's forwards; JSON too.
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  target = \"nonsense\"\n  remote_port = 80\n}\n")
	code, out, errOut = c.run("-C", dir, "status", "--json")
	if code != exitOK || !strings.Contains(errOut, "kpf.hcl:2:") || !strings.Contains(errOut, "the spec does not load (see above)") {
		t.Fatalf("status with a broken spec: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(out, `"state": "running"`) != 2 {
		t.Errorf("status --json with a broken spec: want 2 running forwards\n%s", out)
	}

	// Nothing runs and nothing loads: the diagnostics are the answer, as before.
	if code, out, errOut := c.run("-C", dir, "destroy"); code != exitOK {
		t.Fatalf("destroy without a spec: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := c.run("-C", dir, "status"); code != exitError || !strings.Contains(errOut, "kpf.hcl:2:") {
		t.Errorf("status with a broken spec and no forwards: exit %d, want 1 and the diagnostics\n%s%s", code, out, errOut)
	}
}

func TestStatusWatchUsage(t *testing.T) {
	dir, c, _, _ := appliedWorkspace(t)
	for _, args := range [][]string{{"status", "-w", "--json"}, {"status", "--watch", "--all"}} {
		if code, _, errOut := c.run(append([]string{"-C", dir}, args...)...); code != exitError || !strings.Contains(errOut, "--watch cannot be combined") {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	// Not a terminal: a clear error, not a garbled screen.
	if code, _, errOut := c.run("-C", dir, "status", "--watch"); code != exitError || !strings.Contains(errOut, "--watch needs a terminal") {
		t.Errorf("status --watch without a terminal: exit %d\n%s", code, errOut)
	}
}

// TestLiveFeed: the snapshots come from the state file and the runtime
// (the fake kubectl's real processes); Peek shows the watch's probe
// verdicts without probing; a pass under way shows in the state column.
func TestLiveFeed(t *testing.T) {
	dir, c, api, web := appliedWorkspace(t)
	a := testApp(t, c, dir)
	ctx := context.Background()
	s, err := a.openSession(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	feed := newLiveFeed(s.store, s.observer, true)
	t0 := time.Now()
	feed.loaded(s.ws.Name, s.forwards, t0)

	rowsOf := func(snap live.Snapshot) map[string]live.Row {
		m := map[string]live.Row{}
		for _, r := range snap.Rows {
			m[r.Name] = r
		}
		return m
	}
	snap := feed.snapshot(ctx, t0.Add(time.Second))
	if snap.Workspace != s.ws.Name || len(snap.Contexts) != 1 || snap.Contexts[0] != "kind-dev" || !snap.SpecLoaded.Equal(t0) {
		t.Errorf("snapshot header: %+v", snap)
	}
	rows := rowsOf(snap)
	if len(rows) != 3 {
		t.Fatalf("rows %+v, want api, off, web", snap.Rows)
	}
	want := live.Row{Name: "api", Local: fmt.Sprintf("127.0.0.1:%d", api), Target: "service/api", Context: "kind-dev", Namespace: "shop",
		State: live.StateRunning, Health: "unknown", Active: live.Unknown, Total: live.Unknown, BytesIn: live.Unknown, BytesOut: live.Unknown}
	got := rows["api"]
	got.Uptime = 0
	if got != want {
		t.Errorf("api row\n got %+v\nwant %+v (kubectl reports no counters; not probed yet)", got, want)
	}
	if rows["web"].Health != "none" || rows["off"].State != live.StateDisabled {
		t.Errorf("web %+v, off %+v", rows["web"], rows["off"])
	}

	// The watch probes (Observe); the feed shows the verdict, probing nothing.
	s.observer.Observe(ctx, s.state, s.forwards)
	if h := rowsOf(feed.snapshot(ctx, time.Now()))["api"].Health; h != "healthy" {
		t.Errorf("api health after the watch's probe: %q, want healthy", h)
	}

	feed.applying([]reconcile.Change{{Name: "api", Action: reconcile.Restart}, {Name: "web", Action: reconcile.Start}})
	rows = rowsOf(feed.snapshot(ctx, time.Now()))
	if rows["api"].State != live.StateRestarting || rows["web"].State != live.StateStarting {
		t.Errorf("during a pass: api %q, web %q; want restarting, starting", rows["api"].State, rows["web"].State)
	}
	feed.applying(nil)
	if st := rowsOf(feed.snapshot(ctx, time.Now()))["api"].State; st != live.StateRunning {
		t.Errorf("after the pass: api %q, want running", st)
	}

	// A kill is seen at the next snapshot.
	id := procOf(t, s.state.Forwards["web"].Handle)
	if err := syscall.Kill(id.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web seen exited", func() bool {
		return rowsOf(feed.snapshot(ctx, time.Now()))["web"].State == live.StateExited
	})
	_ = web
	// The watch (here a second apply) restarts it and saves the state: the
	// feed reads the new file.
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if r := rowsOf(feed.snapshot(ctx, time.Now()))["web"]; r.State != live.StateRunning || r.Restarts != 1 {
		t.Errorf("web after the restart: %+v, want running with 1 restart", r)
	}

	feed.broken("kpf.hcl:3:1: error: Unsupported argument")
	if snap := feed.snapshot(ctx, time.Now()); snap.SpecError == "" || len(snap.Rows) != 3 {
		t.Errorf("a broken spec keeps the rows of the last one and shows the error: %+v", snap)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, 20*time.Millisecond, what, cond)
}

func TestLiveActions(t *testing.T) {
	dir, c, api, _ := appliedWorkspace(t)
	opened := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.env["BROWSER"] = browser
	a := testApp(t, c, dir)
	ctx := context.Background()
	s, err := a.openSession(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	feed := newLiveFeed(s.store, s.observer, true)
	feed.loaded(s.ws.Name, s.forwards, time.Now())
	restart := make(chan string, 1)
	acts := &liveActions{a: a, feed: feed, store: s.store, restart: restart}

	t.Run("restart", func(t *testing.T) {
		if err := acts.Restart(ctx, "api"); err != nil {
			t.Fatal(err)
		}
		if got := <-restart; got != "api" {
			t.Errorf("the watch got %q", got)
		}
		restart <- "web" // the queue is full
		for name, want := range map[string]string{
			"api":  "already queued",
			"nope": "nope is not in the spec",
			"off":  "off is disabled in the spec",
		} {
			if err := acts.Restart(ctx, name); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("restart %s: %v, want %q", name, err, want)
			}
		}
		<-restart
		ro := &liveActions{a: a, feed: feed, store: s.store}
		if err := ro.Restart(ctx, "api"); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("read-only restart: %v", err)
		}
	})

	t.Run("open", func(t *testing.T) {
		if err := acts.Open(ctx, "api"); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("http://127.0.0.1:%d/docs\n", api)
		waitFor(t, "the browser opened "+want, func() bool {
			b, _ := os.ReadFile(opened)
			return string(b) == want
		})
		if err := acts.Open(ctx, "off"); err == nil || !strings.Contains(err.Error(), "not running") {
			t.Errorf("open of a disabled forward: %v", err)
		}
	})

	t.Run("log", func(t *testing.T) {
		r, err := acts.Log(ctx, "api", true)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(got.String(), "Forwarding from") {
			n, err := r.Read(buf)
			if err != nil {
				t.Fatalf("reading the log: %v (so far %q)", err, got.String())
			}
			got.Write(buf[:n])
		}
		// Following: a Read blocks for more; Close unblocks it.
		done := make(chan error, 1)
		go func() {
			_, err := r.Read(buf)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		r.Close()
		select {
		case err := <-done:
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("pending read after Close: %v, want io.ErrClosedPipe", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock the pending Read")
		}

		r, _ = acts.Log(ctx, "nope", false)
		if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), `no such forward "nope"`) {
			t.Errorf("log of an unknown forward: %v", err)
		}
	})
}

// TestLiveHook: the watch's events reach the live view as structured
// values: a line of its log per forward acted on (escaped), the spec's
// first error in its footer, cleared when the spec loads again.
func TestLiveHook(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	feed := newLiveFeed(nil, nil, true)
	var got []live.Event
	h := &liveHook{send: func(m any) { got = append(got, m.(live.Event)) }, feed: feed}
	footer := func() string { feed.mu.Lock(); defer feed.mu.Unlock(); return feed.specErr }
	tests := []struct {
		name   string
		event  func()
		want   []live.Event
		footer string
	}{
		{"restarted", func() {
			h.ActionSucceeded(reconcile.ActionSucceeded{At: at, Forward: "api", Action: reconcile.Restart,
				Address: "127.0.0.1", Port: 8080, Attempts: 1, Reason: "process exited"})
		}, []live.Event{{At: at, Name: "api", Text: "restarted on 127.0.0.1:8080 (1 attempt; process exited)"}}, ""},
		{"failed, escaped", func() {
			h.ActionFailed(reconcile.ActionFailed{At: at, Forward: "db", Action: reconcile.Start, Attempts: 2, Error: "services \"db\" not found\x1b[2J"})
		}, []live.Event{{At: at, Name: "db", Text: `failed after 2 attempts: services "db" not found\x1b[2J`, Err: true}}, ""},
		{"not reached: told once per cluster", func() {
			h.ActionFailed(reconcile.ActionFailed{At: at, Forward: "a", Action: reconcile.Start, Error: "gone", NotReached: true})
			h.ClusterUnreachable(reconcile.ClusterUnreachable{At: at, Context: "c", Forwards: []string{"a", "b"}, Error: "gone"})
		}, []live.Event{{At: at, Text: "forward.a, forward.b: not applied: gone", Err: true}}, ""},
		{"spec broken: the first error in the footer", func() {
			h.SpecBroken(reconcile.SpecBroken{At: at, Error: "the spec has errors", Diagnostics: []reconcile.Diagnostic{
				{Severity: reconcile.SeverityWarning, Summary: "deprecated"},
				{Severity: reconcile.SeverityError, Summary: "Unsupported argument", Detail: "An argument named  \"x\"\nis not expected.",
					Range: &reconcile.SourceRange{Filename: "kpf.hcl", Start: reconcile.SourcePos{Line: 3, Column: 5}}},
			}})
		}, nil, `kpf.hcl:3:5: error: Unsupported argument: An argument named "x" is not expected.`},
		{"the spec loads again", func() {
			h.SpecReloaded(reconcile.SpecReloaded{At: at, Forwards: 2, Recovered: true})
		}, []live.Event{{At: at, Text: "the spec loads again"}}, ""},
		{"unknown context: the error in the footer", func() {
			h.SpecBroken(reconcile.SpecBroken{At: at, Error: `context "prod" is not in the kubeconfig`})
		}, nil, `context "prod" is not in the kubeconfig`},
		{"a new spec, not a recovery, leaves the footer", func() {
			h.SpecReloaded(reconcile.SpecReloaded{At: at, Forwards: 3})
		}, nil, `context "prod" is not in the kubeconfig`},
	}
	for _, tt := range tests {
		got = nil
		tt.event()
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: events\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
		if f := footer(); f != tt.footer {
			t.Errorf("%s: footer %q, want %q", tt.name, f, tt.footer)
		}
	}
}

func TestLiveRow(t *testing.T) {
	base := reconcile.StatusRow{Name: "api", State: reconcile.StatusRunning, Health: "healthy", Restarts: 2,
		Active: -1, Total: -1, BytesIn: -1, BytesOut: -1, Reconnects: -1, Uptime: time.Minute}
	tests := []struct {
		name  string
		row   func(r *reconcile.StatusRow)
		doing reconcile.Action
		want  func(r *live.Row)
	}{
		{"kubectl: counters unknown", nil, reconcile.NoOp, nil},
		{"native: reconnects are not restarts (one meaning, as kpf status)", func(r *reconcile.StatusRow) {
			r.Pod, r.Active, r.Total, r.BytesIn, r.BytesOut, r.Reconnects = "api-0", 1, 5, 100, 20, 3
		}, reconcile.NoOp, func(r *live.Row) {
			r.Pod, r.Active, r.Total, r.BytesIn, r.BytesOut = "api-0", 1, 5, 100, 20
		}},
		{"idle: the age of its last check", func(r *reconcile.StatusRow) {
			r.Health, r.CheckAge = "idle", 4*time.Minute+10*time.Second
		}, reconcile.NoOp, func(r *live.Row) { r.Health = "idle 4m10s" }},
		{"restarting", nil, reconcile.Restart, func(r *live.Row) { r.State, r.Health, r.Uptime = live.StateRestarting, "-", 0 }},
		{"replacing", nil, reconcile.Replace, func(r *live.Row) { r.State, r.Health, r.Uptime = live.StateRestarting, "-", 0 }},
		{"starting", nil, reconcile.Start, func(r *live.Row) { r.State, r.Health = live.StateStarting, "-" }},
		// Off the port it asked for: the view shows it, as kpf status does.
		{"off its wanted port", func(r *reconcile.StatusRow) {
			r.Local, r.Port, r.WantedPort = "127.0.0.1:38081", 38081, 38080
		}, reconcile.NoOp, func(r *live.Row) { r.Local, r.WantedPort = "127.0.0.1:38081", 38080 }},
		{"on its wanted port", func(r *reconcile.StatusRow) {
			r.Local, r.Port, r.WantedPort = "127.0.0.1:38080", 38080, 38080
		}, reconcile.NoOp, func(r *live.Row) { r.Local = "127.0.0.1:38080" }},
		{"any port (local_port = 0)", func(r *reconcile.StatusRow) {
			r.Local, r.Port = "127.0.0.1:40123", 40123
		}, reconcile.NoOp, func(r *live.Row) { r.Local = "127.0.0.1:40123" }},
		{"no port yet", func(r *reconcile.StatusRow) { r.WantedPort = 38080 }, reconcile.NoOp, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			if tt.row != nil {
				tt.row(&in)
			}
			want := live.Row{Name: "api", State: live.StateRunning, Health: "healthy", Restarts: 2,
				Active: live.Unknown, Total: live.Unknown, BytesIn: live.Unknown, BytesOut: live.Unknown, Uptime: time.Minute}
			if tt.want != nil {
				tt.want(&want)
			}
			if got := liveRow(in, tt.doing); got != want {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestStatusWithoutKubeconfig: with the kubeconfig gone, unreadable or
// empty, status shows what runs from the state (the forwards are alive:
// they do not need it), with one line on stderr saying why; then destroy
// works as well, and status of nothing says so.
func TestStatusWithoutKubeconfig(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		wantWhy string
	}{
		{"missing", func(t *testing.T, p string) { must(t, os.Remove(p)) }, "no kubeconfig: no such file"},
		{"not yaml", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("{{{ not yaml"), 0o600)) }, "the kubeconfig cannot be read"},
		{"no contexts", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
		}, "the kubeconfig has no contexts (read: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, c, api, _ := appliedWorkspace(t)
			tc.damage(t, filepath.Join(c.env["HOME"], ".kube", "config"))
			for _, args := range [][]string{{"status"}, {"status", "--json"}} {
				code, out, errOut := c.run(append([]string{"-C", dir}, args...)...)
				if code != exitOK {
					t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
				}
				if note := strings.TrimSpace(errOut); strings.Count(note, "\n") != 0 || !strings.Contains(note, tc.wantWhy) || !strings.Contains(note, "from its state alone") {
					t.Errorf("%v: want one line on stderr saying %q, got:\n%s", args, tc.wantWhy, errOut)
				}
				if !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", api)) || strings.Count(out, "running") != 2 {
					t.Errorf("%v: want both forwards running:\n%s", args, out)
				}
			}
			if code, out, errOut := c.run("-C", dir, "destroy"); code != exitOK {
				t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut := c.run("-C", dir, "status")
			if code != exitOK || !strings.Contains(out, "No forwards in the state.") {
				t.Errorf("status after destroy: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
