//go:build !linux && !darwin

package state

import (
	"context"
	"errors"
	"time"
)

// Lock is not implemented on this OS: it fails rather than pretend to
// exclude other writers.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (unlock func() error, err error) {
	return nil, errors.New("workspace locking is not supported on this OS")
}

// LockAs is Lock; it is not implemented on this OS either.
func (s *Store) LockAs(ctx context.Context, wait time.Duration, holder string) (unlock func() error, err error) {
	return s.Lock(ctx, wait)
}
