//go:build unix

package proc

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

func kill(pid int, sig syscall.Signal) error {
	err := unix.Kill(pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("signalling %d: %w", pid, err)
	}
	return nil
}

// Detached returns the attributes that start a child in its own session
// (and so its own process group, led by the child), detached from kpf's
// terminal so it outlives kpf.
func Detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
