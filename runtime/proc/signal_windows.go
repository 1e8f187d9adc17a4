package proc

import "syscall"

func killGroup(int, syscall.Signal) error { return ErrUnsupported }

func ownGroup() int { return -1 }

// Detached returns the attributes that start a child in a new process group
// without a console, so it outlives kpf.
func Detached() *syscall.SysProcAttr {
	const createNewProcessGroup, detachedProcess = 0x00000200, 0x00000008
	return &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess}
}
