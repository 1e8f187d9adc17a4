package ports

import (
	"net/netip"
	"syscall"
)

// bindFree binds a bare TCP socket to ip:port and closes it: socket, bind,
// close, and only after EADDRINUSE SO_REUSEADDR and a second bind, as on
// Linux (see probe_linux.go). The calls go through the syscall package
// (libc on macOS). The socket is made under syscall.ForkLock and marked
// close-on-exec before the lock is released, so a kubectl started at the
// same moment never inherits a bound probe socket.
func bindFree(ip netip.Addr, dualStack bool, port int) error {
	var (
		sa     syscall.Sockaddr
		family = syscall.AF_INET6
	)
	if ip.Is4() {
		family = syscall.AF_INET
		sa = &syscall.SockaddrInet4{Port: port, Addr: ip.As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: port, Addr: ip.As16()}
	}
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if dualStack {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0); err != nil {
			return err
		}
	}
	err = syscall.Bind(fd, sa)
	if err == syscall.EADDRINUSE {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return err
		}
		err = syscall.Bind(fd, sa)
	}
	return err
}
