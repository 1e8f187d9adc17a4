//go:build !unix

package safefs

// Without O_NOFOLLOW, OpenFile relies on the check after opening.
const (
	noFollow = 0
	nonBlock = 0
)

func isRefused(error) bool { return false }
