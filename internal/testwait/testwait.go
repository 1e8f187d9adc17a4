package testwait

import (
	"runtime"
	"testing"
	"time"
)

// For calls cond every interval (0: it yields the processor between calls)
// until it holds, and fails t when within passes first.
func For(t testing.TB, within, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		if interval > 0 {
			time.Sleep(interval)
		} else {
			runtime.Gosched()
		}
	}
}
