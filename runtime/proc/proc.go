package proc

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrUnsupported is returned on operating systems where kpf cannot read a
// process's identity.
var ErrUnsupported = fmt.Errorf("process identity is not supported on this OS: %w", errors.ErrUnsupported)

// ErrGone means the handle no longer names a live process kpf started: the
// process exited, is a zombie, or its pid now belongs to another process.
var ErrGone = errors.New("process is gone or is not the one kpf started")

// info is what the OS tells about one process.
type info struct {
	startTime uint64
	zombie    bool
	pgid      int
}

// StartTime returns the opaque start stamp of process pid: clock ticks since
// boot on Linux, microseconds since the epoch on macOS.
func StartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("invalid pid %d", pid)
	}
	in, err := lookup(pid)
	if err != nil {
		return 0, err
	}
	return in.startTime, nil
}

// Alive reports whether h names a process that exists, is not a zombie, and
// has the start time recorded in h (so a reused pid is not alive).
func Alive(h ID) bool {
	_, err := verify(h)
	return err == nil
}

// verify returns the process's info if h still names it, else ErrGone (or
// ErrUnsupported).
func verify(h ID) (info, error) {
	if h.PID <= 0 {
		return info{}, ErrGone
	}
	in, err := lookup(h.PID)
	if errors.Is(err, ErrUnsupported) {
		return info{}, err
	}
	if err != nil || in.zombie || in.startTime != h.StartTime {
		return info{}, ErrGone
	}
	return in, nil
}

// Signal sends sig to the process h names, after re-verifying right before
// sending that it is still that process. It returns ErrGone (and sends
// nothing) when it is not.
func Signal(h ID, sig syscall.Signal) error {
	if _, err := verify(h); err != nil {
		return err
	}
	return kill(h.PID, sig)
}

// SignalGroup is Signal for the process group h leads: when the verified
// process is its group's leader (as a process started with Detached is),
// sig goes to the whole group; otherwise to the process alone.
func SignalGroup(h ID, sig syscall.Signal) error {
	in, err := verify(h)
	if err != nil {
		return err
	}
	if in.pgid == h.PID {
		return kill(-h.PID, sig)
	}
	return kill(h.PID, sig)
}

// ID names one process: its pid and its start stamp, so that a reused pid
// is never mistaken for the process kpf started.
type ID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // opaque, platform-specific process start stamp
}
