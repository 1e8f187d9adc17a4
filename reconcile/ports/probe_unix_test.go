//go:build linux || darwin

package ports

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// holder takes port in some way for the duration of a test.
type holder func(t *testing.T, port int)

// TestProbeMatchesListen is the proof that Probe's bare-socket binds give
// the answer of a real listener (listenProbe, what kubectl gets): for every
// way of holding a port below, and every address kpf may bind, both agree.
// want is the expected answer for 127.0.0.1 (nil: whatever the listener
// says), which shows each case sets up what it says it does.
func TestProbeMatchesListen(t *testing.T) {
	v6 := hasIPv6(t)
	yes, no := true, false
	tests := []struct {
		name   string
		needV6 bool
		hold   []holder
		want   *bool // for 127.0.0.1
	}{
		{"free", false, nil, &yes},
		{"listener on 127.0.0.1", false, []holder{listener("tcp4", "127.0.0.1")}, &no},
		{"listener on ::1", true, []holder{listener("tcp6", "::1")}, &no},
		{"listener on 127.0.0.2", false, []holder{listener("tcp4", "127.0.0.2")}, &yes},
		{"listener on 0.0.0.0", false, []holder{listener("tcp4", "0.0.0.0")}, &no},
		{"dual-stack listener on [::]", true, []holder{listener("tcp", "")}, &no},
		{"v6-only listener on [::]", true, []holder{v6onlyListener}, &no},
		{"listener with SO_REUSEPORT on 127.0.0.1", false, []holder{reusePortListener}, &no},
		{"TIME_WAIT on 127.0.0.1 (server closed first)", false, []holder{timeWait("127.0.0.1", false)}, &yes},
		{"TIME_WAIT on ::1 (server closed first)", true, []holder{timeWait("::1", false)}, &yes},
		{"TIME_WAIT on 127.0.0.1 (client bound to the port closed first)", false, []holder{timeWait("127.0.0.1", true)}, &no},
		{"connection from 127.0.0.1:port", false, []holder{outgoing("127.0.0.1")}, &no},
		{"bound, not listening, on 127.0.0.1", false, []holder{bound("127.0.0.1", false)}, &no},
		{"bound with SO_REUSEADDR, not listening, on 127.0.0.1", false, []holder{bound("127.0.0.1", true)}, nil},
		{"bound, not listening, on ::1", true, []holder{bound("::1", false)}, &no},
		{"TIME_WAIT and a listener on ::1", true, []holder{timeWait("127.0.0.1", false), listener("tcp6", "::1")}, &no},
	}
	addresses := []string{"127.0.0.1", "::1", "0.0.0.0", "::", "", "127.0.0.2", "::ffff:127.0.0.1", "[::1]", "localhost"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.needV6 && !v6 {
				t.Skip("no IPv6 loopback")
			}
			port := freeBothLoopbacks(t)
			for _, h := range tt.hold {
				h(t, port)
			}
			for _, a := range addresses {
				got, want := Probe(a, port), listenProbe(a, port)
				if got != want {
					t.Errorf("Probe(%q, %d) = %v, a listener says %v", a, port, got, want)
				}
				if a == "127.0.0.1" && tt.want != nil && got != *tt.want {
					t.Errorf("Probe(%q, %d) = %v, want %v", a, port, got, *tt.want)
				}
			}
		})
	}
}

// freeBothLoopbacks returns a port free on 127.0.0.1 and ::1, and on the
// wildcards.
func freeBothLoopbacks(t *testing.T) int {
	t.Helper()
	for range 20 {
		p, err := FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if listenProbe("", p) {
			return p
		}
	}
	t.Fatal("no port free everywhere")
	return 0
}

func listener(network, host string) holder {
	return func(t *testing.T, port int) {
		t.Helper()
		l, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("holding %s %s:%d: %v", network, host, port, err)
		}
		t.Cleanup(func() { _ = l.Close() })
	}
}

func listenWith(t *testing.T, network, address string, opt func(fd uintptr) error) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = opt(fd) }); cerr != nil {
			return cerr
		}
		return err
	}}
	l, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		t.Fatalf("holding %s: %v", address, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func v6onlyListener(t *testing.T, port int) {
	listenWith(t, "tcp6", "[::]:"+strconv.Itoa(port), func(fd uintptr) error {
		return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
	})
}

func reusePortListener(t *testing.T, port int) {
	listenWith(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port), func(fd uintptr) error {
		return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	})
}

// timeWait leaves a connection in TIME_WAIT on host:port. The side that
// closes first keeps it: the server's accepted socket (which inherits the
// listener's SO_REUSEADDR), or, with clientSide, a client that bound port
// itself without SO_REUSEADDR. It checks the TIME_WAIT is there: a bind
// without SO_REUSEADDR fails.
func timeWait(host string, clientSide bool) holder {
	return func(t *testing.T, port int) {
		t.Helper()
		lport := port
		if clientSide {
			lport = 0
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(lport)))
		if err != nil {
			t.Fatalf("listening: %v", err)
		}
		defer l.Close()
		d := net.Dialer{}
		if clientSide {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(host), Port: port}
		}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dialing: %v", err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatalf("accepting: %v", err)
		}
		first, second := s, c
		if clientSide {
			first, second = c, s
		}
		_ = first.Close()
		_, _ = io.Copy(io.Discard, second) // until the FIN
		_ = second.Close()
		_ = l.Close()
		ip := netip.MustParseAddr(host)
		deadline := time.Now().Add(5 * time.Second)
		for plainBind(ip, port) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no TIME_WAIT on %s:%d: a bind without SO_REUSEADDR succeeds", host, port)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// outgoing holds an established connection from host:port.
func outgoing(host string) holder {
	return func(t *testing.T, port int) {
		t.Helper()
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("listening: %v", err)
		}
		t.Cleanup(func() { _ = l.Close() })
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host), Port: port}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dialing from %s:%d: %v", host, port, err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
}

// bound holds a socket bound to host:port that never listens.
func bound(host string, reuse bool) holder {
	return func(t *testing.T, port int) {
		t.Helper()
		ip := netip.MustParseAddr(host)
		fd, err := rawBound(ip, port, reuse)
		if err != nil {
			t.Fatalf("binding %s:%d: %v", host, port, err)
		}
		t.Cleanup(func() { _ = syscall.Close(fd) })
	}
}

// plainBind binds and closes a socket without any option.
func plainBind(ip netip.Addr, port int) error {
	fd, err := rawBound(ip, port, false)
	if err == nil {
		_ = syscall.Close(fd)
	}
	return err
}

func rawBound(ip netip.Addr, port int, reuse bool) (int, error) {
	family := syscall.AF_INET6
	var sa syscall.Sockaddr = &syscall.SockaddrInet6{Port: port, Addr: ip.As16()}
	if ip.Is4() {
		family = syscall.AF_INET
		sa = &syscall.SockaddrInet4{Port: port, Addr: ip.As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	if reuse {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			_ = syscall.Close(fd)
			return -1, err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// TestBindFreeErrors checks the errors bindFree reports are the kernel's.
func TestBindFreeErrors(t *testing.T) {
	t.Parallel()
	port := listen(t, "127.0.0.1", 0)
	err := bindFree(netip.MustParseAddr("127.0.0.1"), false, port)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("bindFree on a held port: %v, want EADDRINUSE", err)
	}
	// 192.0.2.1 (TEST-NET-1) is not an address of this host: nothing is sent.
	if err := bindFree(netip.MustParseAddr("192.0.2.1"), false, port); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("bindFree on a foreign address: %v, want EADDRNOTAVAIL", err)
	}
}
