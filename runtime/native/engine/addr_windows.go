//go:build windows

package engine

import (
	"errors"
	"syscall"
)

// wsaeaddrinuse is Winsock's WSAEADDRINUSE.
const wsaeaddrinuse = syscall.Errno(10048)

// isAddrInUse reports whether a listen failed because the address is taken.
func isAddrInUse(err error) bool {
	return errors.Is(err, wsaeaddrinuse) || errors.Is(err, syscall.EADDRINUSE)
}
