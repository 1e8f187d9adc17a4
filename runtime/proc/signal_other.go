//go:build !unix && !windows

package proc

import "syscall"

func kill(int, syscall.Signal) error { return ErrUnsupported }

// Detached returns nil: this OS has no detaching attributes kpf knows of.
func Detached() *syscall.SysProcAttr { return nil }
