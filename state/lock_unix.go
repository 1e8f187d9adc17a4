//go:build linux || darwin

package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// Lock takes the workspace's exclusive lock (flock on the lock file) and
// writes this process's pid into it. While another holds it, Lock retries
// until wait has passed (0: try once) or ctx ends, then returns a
// *LockedError (errors.Is ErrLocked) naming the holder's pid. unlock
// releases it; the lock also ends when the process exits.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (unlock func() error, err error) {
	return s.LockAs(ctx, wait, "")
}

// LockAs is Lock that also writes what holds the lock (holder, one line:
// HolderWatch for a watch). A Lock that finds the lock held by a
// HolderWatch fails at once rather than wait: a watch keeps it until it is
// quit.
func (s *Store) LockAs(ctx context.Context, wait time.Duration, holder string) (unlock func() error, err error) {
	if s.readOnly {
		return nil, fmt.Errorf("locking %s: %w", s.dir, errReadOnly)
	}
	path := filepath.Join(s.dir, LockFile)
	f, err := safefs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // a link is refused, not truncated
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	start := time.Now()
	deadline := start.Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if pid, by := readHolder(path); !time.Now().Before(deadline) || ctx.Err() != nil || by == HolderWatch {
			_ = f.Close()
			return nil, &LockedError{Dir: s.dir, PID: pid, Holder: by, Waited: time.Since(start).Round(time.Millisecond)}
		}
		t := time.NewTimer(min(lockPoll, time.Until(deadline)))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err := writeHolder(f, holder); err != nil {
		_ = f.Close() // closing releases the flock
		return nil, fmt.Errorf("writing lock holder: %w", err)
	}
	return sync.OnceValue(func() error {
		_ = f.Truncate(0) // leave no stale holder behind
		uerr := unix.Flock(int(f.Fd()), unix.LOCK_UN)
		cerr := f.Close()
		return errors.Join(uerr, cerr)
	}), nil
}

// writeHolder writes this process's pid into the lock file, and on a
// second line what holds the lock (when holder is not "").
func writeHolder(f *os.File, holder string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	line := strconv.Itoa(os.Getpid()) + "\n"
	if holder = strings.TrimSpace(strings.ReplaceAll(holder, "\n", " ")); holder != "" {
		line += holder + "\n"
	}
	if _, err := f.WriteAt([]byte(line), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads the holder's pid (0 if unreadable) and what it is (""
// if it did not say: an older kpf writes the pid alone).
func readHolder(path string) (pid int, holder string) {
	b, err := safefs.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return 0, ""
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, ""
	}
	holder, _, _ = strings.Cut(rest, "\n")
	return pid, strings.TrimSpace(holder)
}
