//go:build unix

package safefs

import (
	"errors"
	"syscall"
)

const (
	noFollow = syscall.O_NOFOLLOW
	nonBlock = syscall.O_NONBLOCK
)

// isLoop reports the error open(2) gives for a symbolic link under
// O_NOFOLLOW (ELOOP; EMLINK on some BSDs).
func isLoop(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}
