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

// isRefused reports the errors open(2) gives for what OpenFile refuses
// before it can check: a symbolic link under O_NOFOLLOW (ELOOP; EMLINK on
// some BSDs), a FIFO opened for writing with no reader under O_NONBLOCK
// (ENXIO).
func isRefused(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.ENXIO)
}
