//go:build !linux && !darwin

package proc

import "syscall"

func lookup(int) (info, error) { return info{}, ErrUnsupported }

func describe(int) (Process, error) { return Process{}, ErrUnsupported }

// Environ is not supported on this OS.
func Environ(int) ([]string, error) { return nil, ErrUnsupported }

func pids() ([]int, error) { return nil, ErrUnsupported }

// BootID is not supported on this OS.
func BootID() (string, error) { return "", ErrUnsupported }

// Target is a pinned process; nothing can be pinned on this OS.
type Target struct{ proc Process }

func pin(int) (*Target, error)                { return nil, ErrUnsupported }
func (t *Target) close()                      {}
func (t *Target) signal(syscall.Signal) error { return ErrUnsupported }
func (t *Target) exited() bool                { return true }

func hasEnv(int, string) bool { return false }
