package native

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeer refuses a connection from a process of another user
// (LOCAL_PEERCRED): the socket's 0600 mode is the first guard, this the
// second (root, or a socket file made reachable by mistake).
func checkPeer(c net.Conn) error {
	return withFD(c, func(fd int) error {
		cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return fmt.Errorf("reading the peer's credentials: %w", err)
		}
		if int(cred.Uid) != os.Geteuid() {
			return fmt.Errorf("the peer runs as uid %d, not %d", cred.Uid, os.Geteuid())
		}
		return nil
	})
}
