//go:build linux || darwin

package proc

import (
	"errors"
	"os"
	"os/exec"
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
	for _, f := range []func(ID, syscall.Signal) error{Signal, SignalGroup} {
		if err := f(wrong, syscall.SIGKILL); !errors.Is(err, ErrGone) {
			t.Fatalf("signal with wrong start time: err = %v, want ErrGone", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if !Alive(ID{PID: cmd.Process.Pid, StartTime: st}) {
		t.Fatal("a process whose identity did not match was signalled")
	}
}

func TestSignalGroupDetached(t *testing.T) {
	t.Parallel()
	requireSupported(t)
	cmd := startSleeper(t, Detached())
	pid := cmd.Process.Pid
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Fatalf("detached child: pgid %d (%v), want own group %d", pgid, err, pid)
	}
	st, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	h := ID{PID: pid, StartTime: st}
	if err := SignalGroup(h, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, h)
	if err := Signal(h, syscall.SIGTERM); !errors.Is(err, ErrGone) {
		t.Fatalf("signal after exit: %v, want ErrGone", err)
	}
}
