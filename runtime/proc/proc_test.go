//go:build linux || darwin

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func requireSupported(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("process identity unsupported on " + runtime.GOOS)
	}
}

// startSleeper starts a real process kpf did not "start" as a forward and
// kills it at the end of the test.
func startSleeper(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func waitGone(t *testing.T, h ID) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for Alive(h) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", h.PID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartTimeSelf(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	st, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st == 0 {
		t.Fatal("start time of self is 0")
	}
	again, err := StartTime(os.Getpid())
	if err != nil || again != st {
		t.Fatalf("start time not stable: %d then %d (%v)", st, again, err)
	}
	if !Alive(ID{PID: os.Getpid(), StartTime: st}) {
		t.Fatal("self not alive")
	}
}

func TestAlive(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	cmd := startSleeper(t, nil)
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    ID
		want bool
	}{
		{"matching", ID{PID: cmd.Process.Pid, StartTime: st}, true},
		{"pid reused (start time differs)", ID{PID: cmd.Process.Pid, StartTime: st + 1}, false},
		{"zero handle", ID{}, false},
		{"negative pid", ID{PID: -1, StartTime: st}, false},
		{"no such pid", ID{PID: 1 << 30, StartTime: st}, false},
	}
	for _, tc := range tests {
		if got := Alive(tc.h); got != tc.want {
			t.Errorf("%s: Alive = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestZombieIsNotAlive(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err) // unreaped: the zombie keeps its entry
	}
	h := ID{PID: cmd.Process.Pid, StartTime: st}
	waitGone(t, h) // becomes a zombie, not reaped until Wait
	if _, err := StartTime(cmd.Process.Pid); err != nil {
		t.Fatalf("zombie should still have an entry: %v", err)
	}
	_ = cmd.Wait()
}

func TestSignalRefusesOtherProcess(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	cmd := startSleeper(t, nil)
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	wrong := ID{PID: cmd.Process.Pid, StartTime: st + 7}
	if err := Signal(wrong, syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Fatalf("signal with wrong start time: err = %v, want ErrGone", err)
	}
	if _, err := Pin(wrong); !errors.Is(err, ErrGone) {
		t.Fatalf("pin with wrong start time: err = %v, want ErrGone", err)
	}
	time.Sleep(50 * time.Millisecond)
	if !Alive(ID{PID: cmd.Process.Pid, StartTime: st}) {
		t.Fatal("a process whose identity did not match was signalled")
	}
}

// TestRefusesInitAndSelf: pid 1 with its real start time, pid 0 and kpf's
// own pid are never pinned nor signalled (the guard comes before any
// signal: this test never signals pid 1).
func TestRefusesInitAndSelf(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	initStart, err := StartTime(1)
	if err != nil {
		t.Skipf("cannot read pid 1: %v", err)
	}
	self, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{{PID: 1, StartTime: initStart}, {PID: 0}, {PID: -1}, {PID: os.Getpid(), StartTime: self}} {
		if _, err := Pin(id); !errors.Is(err, ErrNotOurs) {
			t.Errorf("Pin(%+v) = %v, want ErrNotOurs", id, err)
		}
		if err := Signal(id, 0); !errors.Is(err, ErrNotOurs) {
			t.Errorf("Signal(%+v) = %v, want ErrNotOurs", id, err)
		}
	}
	if err := killGroup(1, 0); !errors.Is(err, ErrNotOurs) {
		t.Errorf("killGroup(1) = %v, want ErrNotOurs", err)
	}
}

// TestPinOtherUser: a process of another user is not ours, even to root.
func TestPinOtherUser(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	cmd := startSleeper(t, &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := ID{PID: cmd.Process.Pid, StartTime: st}
	if _, err := Pin(id); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("Pin of another user's process = %v, want ErrNotOurs", err)
	}
	if err := Signal(id, syscall.SIGKILL); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("Signal = %v, want ErrNotOurs", err)
	}
	time.Sleep(50 * time.Millisecond)
	if !Alive(id) {
		t.Fatal("another user's process was signalled")
	}
}

// TestPinSignalsDetachedGroup: a process leading its own session is
// signalled with its group (a child it spawned goes too); one that does
// not lead its session is signalled alone.
func TestPinSignalsDetachedGroup(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	// sh leads the session and keeps a sleep child in its group.
	leader := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	leader.SysProcAttr = Detached()
	out, err := leader.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leader.Process.Kill(); _ = leader.Wait() })
	var childPID int
	if _, err := fmt.Fscan(out, &childPID); err != nil {
		t.Fatal(err)
	}
	childStart, err := StartTime(childPID)
	if err != nil {
		t.Fatal(err)
	}
	child := ID{PID: childPID, StartTime: childStart}
	st, err := StartTime(leader.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h := ID{PID: leader.Process.Pid, StartTime: st}
	tg, err := Pin(h)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	p := tg.Process()
	if !p.LeadsSession() || p.UID != os.Getuid() || len(p.Args) == 0 || p.Exe == "" {
		t.Fatalf("pinned process %+v", p)
	}
	if err := tg.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child)
	_ = leader.Wait()
	if !tg.Exited() {
		t.Error("Exited is false after the leader was reaped")
	}
	if err := tg.Signal(syscall.SIGTERM); !errors.Is(err, ErrGone) {
		t.Fatalf("signal after exit: %v, want ErrGone", err)
	}

	// Not a session leader: only the process itself.
	plain := startSleeper(t, nil)
	pst, _ := StartTime(plain.Process.Pid)
	tp, err := Pin(ID{PID: plain.Process.Pid, StartTime: pst})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if tp.Process().LeadsSession() {
		t.Fatal("a child of the test leads its own session")
	}
}

// TestDescribeAndMarked: Describe reads a process's executable and argv;
// Marked finds the user's processes by an exact environment entry.
func TestDescribeAndMarked(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	mark := fmt.Sprintf("KPF_PROC_TEST=%d-%d", os.Getpid(), time.Now().UnixNano())
	start := func(env string) ID {
		cmd := exec.Command("sleep", "30")
		cmd.Env = append(os.Environ(), env)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		st, err := StartTime(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return ID{PID: cmd.Process.Pid, StartTime: st}
	}
	marked := start(mark)
	start(mark + "x") // a longer value is another mark
	p, err := Describe(marked)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.Exe) != "sleep" || len(p.Args) != 2 || p.Args[1] != "30" {
		t.Errorf("Describe = exe %q args %q", p.Exe, p.Args)
	}
	found, err := Marked(mark)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != marked {
		t.Fatalf("Marked = %+v, want only %+v", found, marked)
	}
	if b, err := BootID(); err != nil || b == "" {
		t.Errorf("BootID = %q, %v", b, err)
	}
}
