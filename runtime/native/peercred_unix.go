//go:build linux || darwin

package native

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer refuses a connection from a process of another user (peerUID:
// SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS): the socket's 0600 mode is
// the first guard, this the second (root, or a socket file made reachable
// by mistake).
func checkPeer(c net.Conn) error {
	return withFD(c, func(fd int) error {
		uid, who, err := peerUID(fd)
		if err != nil {
			return fmt.Errorf("reading the peer's credentials: %w", err)
		}
		if uid != os.Geteuid() {
			return fmt.Errorf("%s runs as uid %d, not %d", who, uid, os.Geteuid())
		}
		return nil
	})
}

// withFD runs f on c's file descriptor.
func withFD(c net.Conn, f func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("a %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
