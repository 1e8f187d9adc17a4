package kubectl

import (
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime/proc"
)

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestExitBroker(t *testing.T) {
	var b exitBroker
	a := proc.ID{PID: 100, StartTime: 1}
	early, forget := b.wait(a)
	defer forget()
	b.exited(a)
	if !closedWithin(early, time.Second) {
		t.Error("a waiter from before the exit was not told")
	}
	if late, _ := b.wait(a); !closedWithin(late, time.Second) {
		t.Error("a waiter from after the exit was not told")
	}
	other := proc.ID{PID: 100, StartTime: 2} // the pid reused
	ch, forgetOther := b.wait(other)
	if closedWithin(ch, 10*time.Millisecond) {
		t.Error("another process with the same pid counts as exited")
	}
	forgetOther()
	if len(b.waiters) != 0 {
		t.Errorf("forgotten waiters kept: %v", b.waiters)
	}

	// Only the latest maxGone exits are remembered.
	for i := range maxGone + 10 {
		b.exited(proc.ID{PID: 1000 + i, StartTime: 1})
		b.exited(proc.ID{PID: 1000 + i, StartTime: 1}) // told twice: counted once
	}
	if len(b.gone) != maxGone || len(b.order) != maxGone {
		t.Fatalf("remembers %d exits (%d in order), want %d", len(b.gone), len(b.order), maxGone)
	}
	if ch, _ := b.wait(proc.ID{PID: 1000 + maxGone + 9, StartTime: 1}); !closedWithin(ch, time.Second) {
		t.Error("the latest exit was forgotten")
	}
	if ch, forget := b.wait(a); closedWithin(ch, 10*time.Millisecond) {
		t.Error("the oldest exit is still remembered")
	} else {
		forget()
	}
}
