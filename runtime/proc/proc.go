package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrUnsupported is returned on operating systems where kpf cannot read a
// process's identity. It wraps errors.ErrUnsupported.
var ErrUnsupported error = unsupportedError{}

// unsupportedError is ErrUnsupported: a value of its own rather than
// fmt.Errorf's, which every kpf command paid for at start-up (issue 20
// point 11).
type unsupportedError struct{}

func (unsupportedError) Error() string {
	return "process identity is not supported on this OS: " + errors.ErrUnsupported.Error()
}

func (unsupportedError) Unwrap() error { return errors.ErrUnsupported }

// ErrGone means the handle no longer names a live process kpf started: the
// process exited, is a zombie, or its pid now belongs to another process.
var ErrGone = errors.New("process is gone or is not the one kpf started")

// ErrNotOurs means the process exists but is not kpf's to signal: pid 0 or
// 1, kpf itself, a process of another user, or one the OS does not let kpf
// signal (EPERM). Retrying cannot help.
var ErrNotOurs = errors.New("kpf never signals it")

// info is what the OS tells about one process from its status alone.
type info struct {
	startTime uint64
	zombie    bool
	pgid      int
	sid       int
}

// ID names one process: its pid and its start stamp, so that a reused pid
// is never mistaken for the process kpf started.
type ID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // opaque, platform-specific process start stamp
}

// Process is what kpf can learn of a live process: its identity, owner,
// session, and what it runs.
type Process struct {
	ID
	// UID is the process's real user id.
	UID int
	// SID and PGID are its session and process group.
	SID, PGID int
	// Exe is the path of its executable as the kernel reports it ("" when
	// it cannot be read). A binary replaced on disk keeps its old path.
	Exe string
	// Args is its argv, argv[0] included (nil when it cannot be read).
	Args []string
}

// LeadsSession reports whether the process leads its own session (and so
// its own process group), as a process started with Detached does.
func (p Process) LeadsSession() bool { return p.SID == p.PID && p.PGID == p.PID }

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
// has the start time recorded in h (so a reused pid is not alive). It
// checks nothing else; Describe tells what the process runs.
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

// Describe returns what kpf can learn of the process h names, or ErrGone
// when h names no live process (exited, zombie, pid reused).
func Describe(h ID) (Process, error) {
	in, err := verify(h)
	if err != nil {
		return Process{}, err
	}
	p, err := describe(h.PID)
	if err != nil {
		return Process{}, err
	}
	p.ID, p.PGID, p.SID = h, in.pgid, in.sid
	return p, nil
}

// refuse returns ErrNotOurs for the pids kpf never signals whatever a
// state file says: 0 and 1 (kill(-1) is every process of the user), kpf's
// own and its process group's.
func refuse(pid int) error {
	if pid <= 1 || pid == os.Getpid() || pid == ownGroup() {
		return fmt.Errorf("pid %d: %w", pid, ErrNotOurs)
	}
	return nil
}

// Pin finds the process id names and holds on to it for checks and
// signals: on Linux through a pidfd, so that the pid cannot come to name
// another process between the checks made here (and by the caller on
// Process()) and a signal. It returns ErrGone when id names no live
// process, and ErrNotOurs for pid 0 or 1, kpf itself, or a process of
// another user. Close the Target when done.
func Pin(id ID) (*Target, error) {
	if err := refuse(id.PID); err != nil {
		return nil, err
	}
	t, err := pin(id.PID)
	if err != nil {
		return nil, err
	}
	// Checked after pinning: if id named the process now, the pin holds
	// that very process.
	p, err := Describe(id)
	if err != nil {
		t.close()
		return nil, err
	}
	if p.UID != os.Getuid() {
		t.close()
		return nil, fmt.Errorf("process %d belongs to user %d, %w", id.PID, p.UID, ErrNotOurs)
	}
	t.proc = p
	return t, nil
}

// Process is what Pin found.
func (t *Target) Process() Process { return t.proc }

// Close releases the pin; safe twice.
func (t *Target) Close() { t.close() }

// Signal sends sig to the pinned process and, when it leads its own session
// (a detached forward and whatever it spawned, such as a credential
// plugin), to its process group. It returns ErrGone once the process has
// exited and ErrNotOurs when the OS refuses (EPERM).
func (t *Target) Signal(sig syscall.Signal) error {
	if t.proc.LeadsSession() && !t.exited() {
		// The leader has not exited, so its pid is still its group's id:
		// the group gets the signal first, while that holds (signalling
		// the leader first let it die before the check, and its children
		// kept running). Errors here are the group vanishing meanwhile.
		_ = killGroup(t.proc.PID, sig)
	}
	// The leader itself through the pin, whatever happened to the group.
	return t.signal(sig)
}

// Exited reports whether the pinned process has exited.
func (t *Target) Exited() bool { return t.exited() }

// Signal sends sig to the process h names (not its group), after pinning
// and re-verifying it (see Pin).
func Signal(h ID, sig syscall.Signal) error {
	t, err := Pin(h)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.signal(sig)
}

// Marked returns the user's live processes whose environment, as they were
// started with, holds the entry kv ("KEY=value", matched exactly): how kpf
// finds the processes it marked when it started them. Processes whose
// environment cannot be read (other users') are skipped.
func Marked(kv string) ([]Process, error) {
	all, err := pids()
	if err != nil {
		return nil, err
	}
	uid := os.Getuid()
	var out []Process
	for _, pid := range all {
		if refuse(pid) != nil {
			continue
		}
		// The environment is checked first (cheap, and most processes
		// fail it); the start time read next is checked again by Describe,
		// so a pid reused in between is not taken for the marked process.
		if !hasEnv(pid, kv) {
			continue
		}
		in, err := lookup(pid)
		if err != nil || in.zombie || !hasEnv(pid, kv) {
			continue
		}
		p, err := Describe(ID{PID: pid, StartTime: in.startTime})
		if err != nil || p.UID != uid {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
