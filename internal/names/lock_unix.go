//go:build unix

package names

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive flock on dir (the hosts file is replaced by
// rename, so a lock on the file itself would lock an old inode).
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return func() { d.Close() }, nil
}
