package state

import (
	"errors"
	"fmt"
	"time"
)

// ErrLocked is wrapped by the error Lock returns when another process holds
// the workspace lock; errors.As to *LockedError for the holder's pid.
var ErrLocked = errors.New("workspace is locked")

// HolderWatch is what a `kpf apply --watch` writes into the lock it holds
// for as long as it runs (see LockAs).
const HolderWatch = "apply --watch"

// LockedError says who holds a workspace lock.
type LockedError struct {
	Dir string
	// PID is the holder's pid, 0 if it could not be read.
	PID int
	// Holder is what the holder said it is (HolderWatch, or "" when it
	// did not say).
	Holder string
	Waited time.Duration
}

func (e *LockedError) Error() string {
	holder := "another kpf (pid unknown)"
	switch {
	case e.PID > 0 && e.Holder != "":
		holder = fmt.Sprintf("kpf %s (pid %d)", e.Holder, e.PID)
	case e.PID > 0:
		holder = fmt.Sprintf("kpf (pid %d)", e.PID)
	}
	return fmt.Sprintf("workspace is locked by %s; waited %s; state in %s", holder, e.Waited, e.Dir)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockPoll is how often a waiting Lock retries.
const lockPoll = 50 * time.Millisecond
