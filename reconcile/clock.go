package reconcile

import "time"

// Clock is the time source of the watch loop and of the per-forward
// backoffs. It also satisfies backoff.Clock. Tests inject a fake (fakeclock_test.go) so
// that no test ever sleeps.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
