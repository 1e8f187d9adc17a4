package native

import "golang.org/x/sys/unix"

// peerUID is the uid of the process at the other end of the unix socket
// fd (LOCAL_PEERCRED, which gives no pid), and how to name that process in
// an error.
func peerUID(fd int) (uid int, who string, err error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, "", err
	}
	return int(cred.Uid), "the peer", nil
}
