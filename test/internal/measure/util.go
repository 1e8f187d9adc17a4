package measure

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Sleep waits for d, or returns ctx's error when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Tail is the last n bytes of s, after "…" when it cut s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// SyncBuffer is a buffer safe for concurrent writes (a child's stdout and
// stderr) and reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// IsInterrupted reports whether err, from waiting for a command that was
// interrupted through its context, says only that: the context was
// cancelled, or the command exited with status 0.
func IsInterrupted(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == 0 || errors.Is(err, context.Canceled)
}

// Percentile is the nearest-rank percentile p (1 to 100) of sorted, which
// must not be empty.
func Percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank-1, 0)]
}
