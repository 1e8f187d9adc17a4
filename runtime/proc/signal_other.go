//go:build !unix && !windows

package proc

import "syscall"

func killGroup(int, syscall.Signal) error { return ErrUnsupported }

func ownGroup() int { return -1 }

// Detached returns nil: this OS has no detaching attributes kpf knows of.
func Detached() *syscall.SysProcAttr { return nil }
