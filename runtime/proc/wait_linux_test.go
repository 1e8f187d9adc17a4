package proc

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestWaitExit: WaitExit returns when the process exits (killed behind its
// back), at once for a handle that names no live process, and with ctx's
// error when ctx ends first.
func TestWaitExit(t *testing.T) {
	t.Parallel()
	cmd := startSleeper(t, nil)
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h := ID{PID: cmd.Process.Pid, StartTime: st}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := WaitExit(ctx, h); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitExit of a live process with a short ctx = %v, want DeadlineExceeded", err)
	}

	for _, other := range []ID{
		{PID: cmd.Process.Pid, StartTime: st + 1}, // the pid names another process
		{PID: 1 << 30, StartTime: st},             // no such process
		{},
	} {
		if err := WaitExit(context.Background(), other); err != nil {
			t.Errorf("WaitExit(%+v) = %v, want nil at once", other, err)
		}
	}

	done := make(chan error, 1)
	go func() { done <- WaitExit(context.Background(), h) }()
	select {
	case err := <-done:
		t.Fatalf("WaitExit returned %v while the process lives", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitExit after the kill = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitExit did not return within 5 s of the kill")
	}
}

// TestTargetWithoutPidfd: the fallback for kernels without pidfd_open
// checks the identity before each kill and refuses a pid that now names
// another process.
func TestTargetWithoutPidfd(t *testing.T) {
	t.Parallel()
	cmd := startSleeper(t, nil)
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := ID{PID: cmd.Process.Pid, StartTime: st}
	stale := &Target{fd: -1, proc: Process{ID: ID{PID: id.PID, StartTime: st + 1}}}
	if err := stale.signal(syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Fatalf("signal through a stale identity = %v, want ErrGone", err)
	}
	if !Alive(id) || stale.exited() != true {
		t.Fatal("stale target: the process was signalled, or the target is not gone")
	}
	tg := &Target{fd: -1, proc: Process{ID: id}}
	if tg.exited() {
		t.Fatal("live target reads as exited")
	}
	if err := tg.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !tg.exited() {
		t.Fatal("killed target not exited")
	}
	tg.close()
}
