package native

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// peerUID is the uid of the process at the other end of the unix socket
// fd (SO_PEERCRED), and how to name that process in an error.
func peerUID(fd int) (uid int, who string, err error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, "", err
	}
	return int(cred.Uid), fmt.Sprintf("the peer (pid %d)", cred.Pid), nil
}
