package reconcile

import (
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFakeClock(start)
	now := c.After(0)
	a := c.After(2 * time.Second)
	b := c.After(1 * time.Second)
	select {
	case got := <-now:
		if !got.Equal(start) {
			t.Fatalf("After(0) fired with %v, want %v", got, start)
		}
	default:
		t.Fatal("After(0) did not fire at once")
	}
	if c.Waiters() != 2 {
		t.Fatalf("Waiters() = %d, want 2", c.Waiters())
	}
	c.Advance(1500 * time.Millisecond)
	select {
	case <-a:
		t.Fatal("2s waiter fired after 1.5s")
	default:
	}
	select {
	case got := <-b:
		if want := start.Add(1500 * time.Millisecond); !got.Equal(want) {
			t.Fatalf("1s waiter got %v, want %v", got, want)
		}
	default:
		t.Fatal("1s waiter did not fire after 1.5s")
	}
	c.Set(start) // never backwards
	if got := c.Now(); !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("Set moved the clock backwards to %v", got)
	}
	c.Set(start.Add(2 * time.Second))
	select {
	case <-a:
	default:
		t.Fatal("2s waiter did not fire at 2s")
	}
	if c.Waiters() != 0 {
		t.Fatalf("Waiters() = %d, want 0", c.Waiters())
	}
}
