//go:build linux || darwin

package kubectl

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// startOrphan starts a forward from a re-executed test binary that exits
// without recording it anywhere: what a kpf killed before saving its state
// leaves behind.
func startOrphan(t *testing.T, workspace string) runtime.Handle {
	t.Helper()
	s := testSpec(t)
	js, _ := json.Marshal(s)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KPF_TEST_START_HELPER="+string(js), "KPF_TEST_WORKSPACE="+workspace,
		"KPF_TEST_KUBECTL="+fakeKubectl, "FAKE_KUBECTL_MODE=ready", "KPF_TEST_LOG="+testLogPath(s.Name))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var h runtime.Handle
	if err := json.Unmarshal(out, &h); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	t.Cleanup(func() { _ = newRuntime().stopProcess(context.Background(), handleData{ID: idOf(t, h)}, true) })
	return h
}

// TestSweepStopsOnlyThisWorkspacesOrphans: forwards are started, their
// records "lost"; Sweep with the one kept handle stops exactly the others
// of this workspace — never a kept one, never another workspace's, never a
// kubectl kpf did not mark, never a marked process that does not lead its
// own session.
func TestSweepStopsOnlyThisWorkspacesOrphans(t *testing.T) {
	t.Parallel()
	ws := filepath.Join(t.TempDir(), "state", "shop-1234abcd")
	other := ws + "x" // a workspace whose name extends this one's
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	r.Workspace = ws

	kept, err := r.Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, kept)
	lost, err := r.Start(context.Background(), testSpec(t)) // started here, never recorded
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, lost)
	orphan := startOrphan(t, ws) // its kpf exited before recording it

	ro := newRuntime("FAKE_KUBECTL_MODE=ready")
	ro.Workspace = other
	theirs, err := ro.Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, ro, theirs)
	unmarked, err := newRuntime("FAKE_KUBECTL_MODE=ready").Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, unmarked)
	// Marked, running port-forward, but not leading its own session (as a
	// process kubectl spawned would be).
	child := exec.Command(fakeKubectl, "port-forward", "service/x", "1:1")
	child.Env = append(os.Environ(), "FAKE_KUBECTL_MODE=hang", EnvWorkspace+"="+ws, EnvForward+"=child")
	// Marked and leading its own session, but not a port-forward.
	leader := exec.Command("sleep", "30")
	leader.Env = append(os.Environ(), EnvWorkspace+"="+ws, EnvForward+"=leader")
	leader.SysProcAttr = proc.Detached()
	var others []proc.ID
	for _, c := range []*exec.Cmd{child, leader} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		others = append(others, proc.ID{PID: c.Process.Pid, StartTime: mustStart(t, c.Process.Pid)})
	}

	stopped, err := r.Sweep(context.Background(), []runtime.Handle{kept})
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 2 {
		t.Fatalf("Sweep stopped %q, want the two orphans", stopped)
	}
	for _, h := range []runtime.Handle{lost, orphan} {
		if proc.Alive(idOf(t, h)) {
			t.Errorf("orphan %s still alive", h)
		}
		d, _ := decodeHandle(h)
		if !strings.Contains(strings.Join(stopped, "\n"), "forward "+d.Name+" ") {
			t.Errorf("Sweep's report %q does not name %s", stopped, d.Name)
		}
	}
	for what, h := range map[string]runtime.Handle{"kept": kept, "other workspace's": theirs, "unmarked": unmarked} {
		if !proc.Alive(idOf(t, h)) {
			t.Errorf("the %s forward was stopped", what)
		}
	}
	for i, id := range others {
		if !proc.Alive(id) {
			t.Errorf("marked process %d (not a forward: %s) was stopped", id.PID, []string{"no session of its own", "not a port-forward"}[i])
		}
	}
	if again, err := r.Sweep(context.Background(), []runtime.Handle{kept}); err != nil || len(again) != 0 {
		t.Errorf("second Sweep = %q, %v; want nothing", again, err)
	}
	if none, err := newRuntime().Sweep(context.Background(), nil); err != nil || len(none) != 0 {
		t.Errorf("Sweep without a workspace = %q, %v", none, err)
	}
}

// TestMarksOnlyPortForward: the marks are on port-forward processes only,
// never inherited by the short kubectl commands kpf runs.
func TestMarksOnlyPortForward(t *testing.T) {
	t.Setenv(EnvWorkspace, "/inherited")
	r := newRuntime()
	for _, kv := range r.env() {
		if strings.HasPrefix(kv, EnvWorkspace+"=") || strings.HasPrefix(kv, EnvForward+"=") {
			t.Fatalf("env of kubectl runs holds %q", kv)
		}
	}
}

// TestStopRefusesInit: a handle naming pid 1 with pid 1's real start time
// (what a hostile or mistaken state file can hold) is never signalled:
// Stop says it is not kpf's, permanently, and Inspect says not alive. The
// refusal comes before any signal, so this test never signals pid 1.
func TestStopRefusesInit(t *testing.T) {
	t.Parallel()
	st, err := proc.StartTime(1)
	if err != nil {
		t.Skipf("cannot read pid 1: %v", err)
	}
	for _, id := range []proc.ID{{PID: 1, StartTime: st}, {PID: os.Getpid(), StartTime: mustStart(t, os.Getpid())}} {
		h, err := NewHandle(id, "api")
		if err != nil {
			t.Fatal(err)
		}
		r := newRuntime()
		err = r.Stop(context.Background(), h)
		if !errors.Is(err, proc.ErrNotOurs) || !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "--forget") {
			t.Errorf("Stop(pid %d) = %v, want a permanent not-ours error naming --forget", id.PID, err)
		}
		if s, _ := r.Inspect(context.Background(), h); s.Alive {
			t.Errorf("Inspect(pid %d) says alive", id.PID)
		}
	}
}

func mustStart(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := proc.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStopChecksWhatRuns: a handle whose pid and start time match a live
// process that is not the kubectl kpf started (another program; kubectl
// with other arguments) leaves it alone, and Inspect calls it not alive.
func TestStopChecksWhatRuns(t *testing.T) {
	t.Parallel()
	sleeper := exec.Command("sleep", "30")
	sleeper.SysProcAttr = proc.Detached()
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	sid := proc.ID{PID: sleeper.Process.Pid, StartTime: mustStart(t, sleeper.Process.Pid)}

	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	real, err := r.Start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, real)
	rd, _ := decodeHandle(real)
	if rd.Exe == "" || rd.Args == "" || rd.Boot == "" {
		t.Fatalf("Start recorded no identity: %+v", rd)
	}
	otherArgs := rd
	otherArgs.Args = argsDigest([]string{"port-forward", "service/other"})
	otherBoot := rd
	otherBoot.Boot = "another-boot"

	v1 := func(id proc.ID) handleData { return handleData{ID: id, Name: "api"} }
	tests := []struct {
		name string
		d    handleData
		id   proc.ID
	}{
		{"v1 handle naming sleep", v1(sid), sid},
		{"recorded exe differs", handleData{ID: sid, Name: "api", Exe: rd.Exe, Args: rd.Args}, sid},
		{"arguments differ", otherArgs, rd.ID},
		{"boot differs", otherBoot, rd.ID},
	}
	for _, tc := range tests {
		h, err := newHandle(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(context.Background(), h); err != nil {
			t.Errorf("%s: Stop = %v, want nil (another program: left alone)", tc.name, err)
		}
		if s, _ := r.Inspect(context.Background(), h); s.Alive {
			t.Errorf("%s: Inspect says alive", tc.name)
		}
		time.Sleep(20 * time.Millisecond)
		if !proc.Alive(tc.id) {
			t.Fatalf("%s: the process was signalled", tc.name)
		}
	}
	// A v1-style handle of a real forward (no identity recorded) is still
	// recognised: alive, and stopped.
	h1, _ := NewHandle(rd.ID, "api")
	if s, _ := r.Inspect(context.Background(), h1); !s.Alive {
		t.Error("v1 handle of a live kubectl forward: not alive")
	}
	if err := r.Stop(context.Background(), h1); err != nil || proc.Alive(rd.ID) {
		t.Errorf("v1 handle: Stop = %v, alive %v", err, proc.Alive(rd.ID))
	}
}

// TestStopOtherUser: a forward whose process belongs to another user is
// reported as not kpf's, permanently, and left running.
func TestStopOtherUser(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	id := proc.ID{PID: cmd.Process.Pid, StartTime: mustStart(t, cmd.Process.Pid)}
	h, _ := NewHandle(id, "api")
	err := newRuntime().Stop(context.Background(), h)
	if !errors.Is(err, proc.ErrNotOurs) || !runtime.IsPermanent(err) {
		t.Fatalf("Stop = %v, want permanent ErrNotOurs", err)
	}
	if !proc.Alive(id) {
		t.Fatal("another user's process was signalled")
	}
}

// TestLogLinkNotFollowed: a forward's log that is a link to another file
// fails the start; kubectl's output is not appended to the target.
func TestLogLinkNotFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "api.log")
	if err := os.Symlink(target, log); err != nil {
		t.Fatal(err)
	}
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	r.LogPath = func(string) string { return log }
	if h, err := r.Start(context.Background(), testSpec(t)); err == nil {
		stopAtEnd(t, r, h)
		t.Fatal("started with a linked log")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Fatalf("log link target changed to %q", b)
	}
}

// TestRotateWhileRunning: the log of a running forward past MaxLogSize is
// rotated by Inspect — copied whole to NAME.log.1 and truncated — and
// kubectl's next lines land at the start of the fresh log (no hole of NUL
// bytes where the old content was).
func TestRotateWhileRunning(t *testing.T) {
	t.Parallel()
	r := newRuntime("FAKE_KUBECTL_MODE=ready")
	s := testSpec(t)
	h, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, r, h)
	path := testLogPath(s.Name)
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("padding line of a long-running forward\n", MaxLogSize/39+10)
	if _, err := w.WriteString(pad); err != nil {
		t.Fatal(err)
	}
	w.Close()
	before, _ := os.ReadFile(path)

	if st, err := r.Inspect(context.Background(), h); err != nil || !st.Alive {
		t.Fatalf("Inspect = %+v, %v", st, err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil || string(old) != string(before) {
		t.Fatalf("NAME.log.1 holds %d bytes (%v), want the %d bytes of the log", len(old), err, len(before))
	}
	if got := dial(t, s.LocalPort); got != "fake" { // kubectl logs the connection
		t.Fatalf("forward answered %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	var now []byte
	for time.Now().Before(deadline) {
		now, _ = os.ReadFile(path)
		if strings.Contains(string(now), "Handling connection") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(string(now), RotatedMarker) || !strings.Contains(string(now), "Handling connection") {
		t.Fatalf("log after rotation = %q", now)
	}
	if strings.Contains(string(now), "\x00") || len(now) > 4096 {
		t.Fatalf("log after rotation has %d bytes (NULs: %v): kubectl wrote at its old offset", len(now), strings.Contains(string(now), "\x00"))
	}
	// Below MaxLogSize nothing happens.
	if _, err := r.Inspect(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); len(again) < len(now) {
		t.Fatal("a small log was rotated again")
	}
}
