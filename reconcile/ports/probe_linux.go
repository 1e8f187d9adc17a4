package ports

import (
	"net/netip"
	"syscall"
	"unsafe"
)

// bindFree binds a bare TCP socket to ip:port and closes it, with raw system
// calls: socket (close-on-exec), bind, close. Only when the bind fails with
// EADDRINUSE does it set SO_REUSEADDR, as Go's listeners do, and bind again:
// that lets a port whose old connections are in TIME_WAIT count as free, like
// it does for a listener, while a free port costs three calls. SO_REUSEADDR
// only ever relaxes bind's checks, so the order does not change the answer.
// A listener would also call listen, getsockname and epoll_ctl; none of
// them changes whether the address can be bound. dualStack clears
// IPV6_V6ONLY (Go's wildcard listener serves IPv4 too).
//
// The calls cannot block (no connection is made), so they are raw: the
// scheduler is not told, which saves two runtime transitions per call.
func bindFree(ip netip.Addr, dualStack bool, port int) error {
	var (
		sa4    syscall.RawSockaddrInet4
		sa6    syscall.RawSockaddrInet6
		sa     unsafe.Pointer
		salen  uintptr
		family = syscall.AF_INET6
	)
	if ip.Is4() {
		family = syscall.AF_INET
		sa4.Family = syscall.AF_INET
		sa4.Addr = ip.As4()
		putPort((*[2]byte)(unsafe.Pointer(&sa4.Port)), port)
		sa, salen = unsafe.Pointer(&sa4), syscall.SizeofSockaddrInet4
	} else {
		sa6.Family = syscall.AF_INET6
		sa6.Addr = ip.As16()
		putPort((*[2]byte)(unsafe.Pointer(&sa6.Port)), port)
		sa, salen = unsafe.Pointer(&sa6), syscall.SizeofSockaddrInet6
	}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return errno
	}
	defer syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0) // closing an unconnected socket cannot fail in a way that matters
	if dualStack {
		if errno := setsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0); errno != 0 {
			return errno
		}
	}
	_, _, errno = syscall.RawSyscall(syscall.SYS_BIND, fd, uintptr(sa), salen)
	if errno == syscall.EADDRINUSE {
		if errno := setsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); errno != 0 {
			return errno
		}
		_, _, errno = syscall.RawSyscall(syscall.SYS_BIND, fd, uintptr(sa), salen)
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func setsockoptInt(fd uintptr, level, name, value int) syscall.Errno {
	v := int32(value)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&v)), 4, 0)
	return errno
}

// putPort stores port in network byte order.
func putPort(b *[2]byte, port int) {
	b[0], b[1] = byte(port>>8), byte(port)
}
