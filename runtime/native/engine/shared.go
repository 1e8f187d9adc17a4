package engine

import (
	"context"
	"time"
)

// sharedCall is one call whose result several callers share: in flight
// until done is closed, then val and err from the call that ended at at.
// The health checks of a tunnel and the target lists of a batcher are
// such calls.
type sharedCall[T any] struct {
	done  chan struct{}
	began time.Time // when the call was made
	val   T
	err   error
	at    time.Time // when it ended
}

func newSharedCall[T any]() *sharedCall[T] {
	return &sharedCall[T]{done: make(chan struct{}), began: time.Now()}
}

// finish records the call's result and releases its waiters.
func (c *sharedCall[T]) finish(val T, err error) {
	c.val, c.err, c.at = val, err, time.Now()
	close(c.done)
}

// reusable reports whether c is in flight or ended less than maxAge ago.
func (c *sharedCall[T]) reusable(maxAge time.Duration) bool {
	select {
	case <-c.done:
		return time.Since(c.at) < maxAge
	default:
		return true
	}
}

// begunWithin reports whether c is in flight or began less than maxAge
// ago: what it saw is at most that old.
func (c *sharedCall[T]) begunWithin(maxAge time.Duration) bool {
	select {
	case <-c.done:
		return time.Since(c.began) < maxAge
	default:
		return true
	}
}

// wait returns c's result once it ended, or ctx's error first.
func (c *sharedCall[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
