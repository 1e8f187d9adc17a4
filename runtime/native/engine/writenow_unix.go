//go:build unix

package engine

import (
	"errors"
	"syscall"
)

// nowWriter writes to a socket without ever waiting for it: one
// non-blocking write(2) (Go's sockets are non-blocking) that takes what
// the socket's send buffer has room for. It is the common path of
// toClient: a client that keeps up gets the pod's bytes straight from the
// goroutine that took them off the tunnel, with no hand-off to the
// connection's writer goroutine, and the tunnel still never waits for it.
type nowWriter struct {
	rc syscall.RawConn // nil: not a socket of this process (net.Pipe in tests)
}

func newNowWriter(conn any) nowWriter {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nowWriter{}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nowWriter{}
	}
	return nowWriter{rc: rc}
}

// write writes what it can of p at once and returns how much that was;
// anything short of len(p) (a full send buffer, a write deadline that
// passed, a broken connection) is left to the caller, which queues it for
// the writer goroutine: that one waits, and reports the error.
func (w nowWriter) write(p []byte) int {
	if w.rc == nil || len(p) == 0 {
		return 0
	}
	n := 0
	_ = w.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || m <= 0 {
				break
			}
		}
		return true // never wait for the socket
	})
	return n
}
