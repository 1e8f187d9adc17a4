package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// WaitExit blocks until the process h names has exited, or ctx ends. It
// works for any process, not only children: on Linux it polls a pidfd
// through Go's network poller, so a thousand waits hold no threads. It
// returns nil at once when h no longer names a live process.
func WaitExit(ctx context.Context, h ID) error {
	if h.PID <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(h.PID, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) { // kernels before 5.10: no PIDFD_NONBLOCK
		if fd, err = unix.PidfdOpen(h.PID, 0); err == nil {
			err = unix.SetNonblock(fd, true)
		}
	}
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("pidfd_open: %w", ErrUnsupported)
	case err != nil:
		return fmt.Errorf("watching process %d: %w", h.PID, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pidfd pins the pid now: if it still names the process kpf
	// started, it will until that process exits.
	if _, err := verify(h); err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watching process %d: %w", h.PID, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	polled := false
	err = rc.Read(func(uintptr) bool {
		// The first call only arms the poller; the next comes when the
		// pidfd is readable, that is when the process has exited.
		done := polled
		polled = true
		return done
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("watching process %d: %w", h.PID, err)
	}
	return nil
}
