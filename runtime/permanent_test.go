package runtime

import (
	"errors"
	"fmt"
	"testing"
)

// TestPermanentKeepsTheMessage: a permanent error reads as the error it
// marks (no ": permanent" suffix reaches the user) and still matches
// ErrPermanent and whatever it wraps, through further wrapping too.
func TestPermanentKeepsTheMessage(t *testing.T) {
	base := errors.New("service demo/web has no TCP port https")
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"marked", Permanent(base), "service demo/web has no TCP port https"},
		{"wrapped after", fmt.Errorf("forward web: %w", Permanent(base)), "forward web: service demo/web has no TCP port https"},
		{"wrapped before", Permanent(fmt.Errorf("forward web: %w", base)), "forward web: service demo/web has no TCP port https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Error() != tt.msg {
				t.Errorf("message %q, want %q", tt.err, tt.msg)
			}
			if !IsPermanent(tt.err) || !errors.Is(tt.err, base) {
				t.Errorf("%v: IsPermanent %v, errors.Is(base) %v; want both", tt.err, IsPermanent(tt.err), errors.Is(tt.err, base))
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
}
