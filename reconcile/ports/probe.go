package ports

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// MaxPort is the highest TCP port number.
const MaxPort = 65535

// IsWildcard reports whether address is an unspecified address ("0.0.0.0",
// "::" or ""), which conflicts with every other address on the same port.
func IsWildcard(address string) bool {
	switch address {
	case "", "0.0.0.0", "::", "[::]":
		return true
	}
	return false
}

// Probe reports whether port can be bound on address right now, without any
// caching. For 127.0.0.1 it also checks ::1 (kubectl binds both loopbacks),
// unless the host has no IPv6 loopback. For a wildcard address it checks the
// dual-stack wildcard. Ports outside 1..65535 are never free.
func Probe(address string, port int) bool {
	if port < 1 || port > MaxPort {
		return false
	}
	if !canBind(primary(address), port) {
		return false
	}
	if address == "127.0.0.1" {
		return secondaryFree("::1", port)
	}
	return true
}

// FreePort asks the kernel for a free port on address. For 127.0.0.1 the port
// is also checked on ::1; a port taken there is skipped.
func FreePort(address string) (int, error) {
	const attempts = 16
	for range attempts {
		l, err := net.Listen("tcp", net.JoinHostPort(primary(address), "0"))
		if err != nil {
			return 0, fmt.Errorf("asking for a free port on %s: %w", address, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("releasing probe port %d on %s: %w", port, address, err)
		}
		if address != "127.0.0.1" || secondaryFree("::1", port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port on %s after %d attempts", address, attempts)
}

// primary maps an address to the host to bind: wildcards become "" so that
// Go binds the dual-stack wildcard.
func primary(address string) string {
	if IsWildcard(address) {
		return ""
	}
	return address
}

func canBind(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// secondaryFree checks a second address: only "in use" or "permission
// denied" make the port unusable; an address the host does not have (no IPv6)
// is ignored.
func secondaryFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES)
	}
	_ = l.Close()
	return true
}
