package proc

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// sZomb is the BSD p_stat value of a zombie (SZOMB in sys/proc.h).
const sZomb = 5

func kinfo(pid int) (*unix.KinfoProc, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || k == nil || int(k.Proc.P_pid) != pid {
		// A missing pid yields an empty answer, which x/sys reports as EIO.
		return nil, fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	return k, nil
}

func lookup(pid int) (info, error) {
	k, err := kinfo(pid)
	if err != nil {
		return info{}, err
	}
	sid, err := unix.Getsid(pid)
	if err != nil {
		sid = -1
	}
	tv := k.Proc.P_starttime
	return info{
		startTime: uint64(tv.Sec)*1_000_000 + uint64(tv.Usec),
		zombie:    k.Proc.P_stat == sZomb,
		pgid:      int(k.Eproc.Pgid),
		sid:       sid,
	}, nil
}

// describe reads the owner (kern.proc.pid), executable and argv
// (kern.procargs2, readable for the user's own processes) of pid.
func describe(pid int) (Process, error) {
	k, err := kinfo(pid)
	if err != nil {
		return Process{}, err
	}
	p := Process{UID: int(k.Eproc.Pcred.P_ruid)}
	if b, err := unix.SysctlRaw("kern.procargs2", pid); err == nil {
		if exe, args, _, err := parseProcargs2(b); err == nil {
			p.Exe, p.Args = exe, args
		}
	}
	return p, nil
}

// Environ returns the environment process pid was started with
// (kern.procargs2: the user's own processes only).
func Environ(pid int) ([]string, error) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, fmt.Errorf("reading the environment of %d: %w", pid, err)
	}
	_, _, env, err := parseProcargs2(b)
	return env, err
}

// pids lists every process id.
func pids() ([]int, error) {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	out := make([]int, 0, len(ks))
	for _, k := range ks {
		if k.Proc.P_pid > 0 {
			out = append(out, int(k.Proc.P_pid))
		}
	}
	return out, nil
}

// BootID is the boot time (kern.boottime). macOS start stamps are wall
// clock microseconds, unique across boots on their own; this is a second
// guard.
func BootID() (string, error) { return bootID() }

var bootID = sync.OnceValues(func() (string, error) {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return "", fmt.Errorf("reading boot time: %w", err)
	}
	return strconv.FormatInt(tv.Sec, 10) + "." + strconv.FormatInt(int64(tv.Usec), 10), nil
})

// Target is a process pinned by Pin. macOS has no pidfd: the pin is the
// identity, checked again right before each signal (a narrow window
// remains between that check and kill).
type Target struct {
	proc Process
}

func pin(pid int) (*Target, error) { return &Target{proc: Process{ID: ID{PID: pid}}}, nil }

func (t *Target) close() {}

func (t *Target) signal(sig syscall.Signal) error {
	if _, err := verify(t.proc.ID); err != nil {
		return err
	}
	err := unix.Kill(t.proc.PID, sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return ErrGone
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("signalling %d: %w: %w", t.proc.PID, err, ErrNotOurs)
	default:
		return fmt.Errorf("signalling %d: %w", t.proc.PID, err)
	}
}

func (t *Target) exited() bool { return !Alive(t.proc.ID) }

// hasEnv reports whether the environment pid was started with holds the
// entry kv exactly.
func hasEnv(pid int, kv string) bool {
	env, err := Environ(pid)
	return err == nil && slices.Contains(env, kv)
}
