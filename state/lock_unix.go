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
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			pid := holderPID(path)
			_ = f.Close()
			return nil, &LockedError{Dir: s.dir, PID: pid, Waited: time.Since(start).Round(time.Millisecond)}
		}
		t := time.NewTimer(min(lockPoll, time.Until(deadline)))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err := writePID(f); err != nil {
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

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

func holderPID(path string) int {
	b, err := safefs.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}
