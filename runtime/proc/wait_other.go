//go:build !linux

package proc

import (
	"context"
	"errors"
	"fmt"
)

// WaitExit waits for the exit of a process kpf did not necessarily start.
// Only Linux (pidfd) does this for now; elsewhere it returns an error
// wrapping errors.ErrUnsupported and callers check on a timer instead.
func WaitExit(ctx context.Context, h ID) error {
	return fmt.Errorf("waiting for the exit of process %d: %w", h.PID, errors.ErrUnsupported)
}
