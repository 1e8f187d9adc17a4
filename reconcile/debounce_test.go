package reconcile

import (
	"testing"
	"time"
)

func TestDebouncer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, tt := range []struct {
		name   string
		events []int // ms after t0
		check  int   // ms after t0
		want   bool
		at     int // the deadline before check, ms after t0; -1: none
	}{
		{"no event", nil, 10_000, false, -1},
		{"quiet not over", []int{0}, 199, false, 200},
		{"quiet over", []int{0}, 200, true, 200},
		{"an event moves the deadline", []int{0, 150}, 300, false, 350},
		{"a stream cannot pass maxWait", []int{0, 190, 380, 570, 760, 950, 1140, 1330, 1520, 1710, 1900}, 2000, true, 2000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDebouncer(200 * time.Millisecond)
			for _, e := range tt.events {
				d.event(ms(e))
			}
			if want := ms(tt.at); tt.at >= 0 && !d.at.Equal(want) {
				t.Errorf("deadline %v, want %v", d.at.Sub(t0), want.Sub(t0))
			}
			if got := d.fire(ms(tt.check)); got != tt.want {
				t.Errorf("fire = %v, want %v", got, tt.want)
			}
			if tt.want && d.fire(ms(tt.check)) {
				t.Error("fired twice")
			}
		})
	}
}
