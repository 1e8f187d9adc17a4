package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func lookup(pid int) (info, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return info{}, fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	if err != nil {
		return info{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from after the last ')'.
func parseStat(b []byte) (info, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return info{}, errors.New("malformed /proc stat: no ')'")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field N is f[N-3].
	const stateField, pgrpField, sessionField, startField = 3, 5, 6, 22
	if len(f) < startField-2 {
		return info{}, fmt.Errorf("malformed /proc stat: %d fields after comm", len(f))
	}
	start, err := strconv.ParseUint(string(f[startField-3]), 10, 64)
	if err != nil {
		return info{}, fmt.Errorf("malformed /proc stat start time: %w", err)
	}
	pgid, err := strconv.Atoi(string(f[pgrpField-3]))
	if err != nil {
		return info{}, fmt.Errorf("malformed /proc stat pgrp: %w", err)
	}
	sid, err := strconv.Atoi(string(f[sessionField-3]))
	if err != nil {
		return info{}, fmt.Errorf("malformed /proc stat session: %w", err)
	}
	state := f[stateField-3]
	return info{
		startTime: start,
		zombie:    len(state) > 0 && (state[0] == 'Z' || state[0] == 'X'),
		pgid:      pgid,
		sid:       sid,
	}, nil
}

// describe reads the owner, executable and argv of pid. Unreadable parts
// (another user's process) stay empty; a missing process is ErrGone.
func describe(pid int) (Process, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	status, err := os.ReadFile(dir + "status")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Process{}, fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	if err != nil {
		return Process{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	uid, err := parseUID(status)
	if err != nil {
		return Process{}, fmt.Errorf("process %d: %w", pid, err)
	}
	p := Process{UID: uid}
	if exe, err := os.Readlink(dir + "exe"); err == nil {
		p.Exe = strings.TrimSuffix(exe, " (deleted)")
	}
	if b, err := os.ReadFile(dir + "cmdline"); err == nil && len(b) > 0 {
		p.Args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	return p, nil
}

// parseUID returns the real uid from /proc/PID/status ("Uid:\tR\tE\tS\tF").
func parseUID(status []byte) (int, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(string(f[0]))
		}
	}
	return 0, errors.New("malformed /proc status: no Uid")
}

// Environ returns the environment process pid was started with (as
// /proc/PID/environ shows it: readable for the user's own processes only).
func Environ(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"), nil
}

// hasEnv reports whether the environment pid was started with holds the
// entry kv exactly.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	entry := []byte(kv + "\x00")
	return bytes.HasPrefix(b, entry) || bytes.Contains(b, append([]byte{0}, entry...))
}

// pids lists every process id.
func pids() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out, nil
}

var bootID = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("reading boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
})

// BootID names the current boot of the machine (Linux:
// /proc/sys/kernel/random/boot_id), so that a process recorded before a
// reboot is never taken for one running now.
func BootID() (string, error) { return bootID() }

// Target is a process pinned by Pin. On Linux it holds a pidfd.
type Target struct {
	proc Process
	fd   int
	once sync.Once
}

func pin(pid int) (*Target, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, fmt.Errorf("process %d: %w", pid, ErrGone)
	case errors.Is(err, unix.ENOSYS):
		// Before Linux 5.3: no pidfd. The identity is checked again right
		// before each kill, leaving a narrow window (as on macOS).
		return &Target{fd: -1}, nil
	case err != nil:
		return nil, fmt.Errorf("pinning process %d: %w", pid, err)
	}
	return &Target{fd: fd}, nil
}

func (t *Target) close() {
	if t.fd >= 0 {
		t.once.Do(func() { _ = unix.Close(t.fd) })
	}
}

func (t *Target) signal(sig syscall.Signal) error {
	var err error
	if t.fd >= 0 {
		err = unix.PidfdSendSignal(t.fd, sig, nil, 0)
	} else if _, err = verify(t.proc.ID); err == nil {
		err = unix.Kill(t.proc.PID, sig)
	}
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

// exited polls the pidfd: it is readable once the process has exited.
func (t *Target) exited() bool {
	if t.fd < 0 {
		return !Alive(t.proc.ID)
	}
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || (n > 0 && fds[0].Revents != 0)
	}
}
