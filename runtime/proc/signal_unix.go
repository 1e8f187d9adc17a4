//go:build unix

package proc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// killGroup signals process group pgid.
func killGroup(pgid int, sig syscall.Signal) error {
	if err := refuse(pgid); err != nil {
		return err
	}
	return unix.Kill(-pgid, sig)
}

func ownGroup() int { return unix.Getpgrp() }

// Detached returns the attributes that start a child in its own session
// (and so its own process group, led by the child), detached from kpf's
// terminal so it outlives kpf.
func Detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
