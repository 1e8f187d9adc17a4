package proc

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrUnsupported: ErrUnsupported reads as it always has and wraps
// errors.ErrUnsupported, also when wrapped itself.
func TestErrUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"bare", ErrUnsupported, "process identity is not supported on this OS: unsupported operation"},
		{"wrapped", fmt.Errorf("pidfd_open: %w", ErrUnsupported), "pidfd_open: process identity is not supported on this OS: unsupported operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.msg {
				t.Errorf("Error() = %q, want %q", got, tc.msg)
			}
			if !errors.Is(tc.err, errors.ErrUnsupported) || !errors.Is(tc.err, ErrUnsupported) {
				t.Errorf("%v: errors.Is ErrUnsupported: %v, errors.ErrUnsupported: %v", tc.err,
					errors.Is(tc.err, ErrUnsupported), errors.Is(tc.err, errors.ErrUnsupported))
			}
			if errors.Is(tc.err, ErrGone) {
				t.Errorf("%v is ErrGone", tc.err)
			}
		})
	}
}
