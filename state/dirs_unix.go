//go:build unix

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// checkRoot checks the directory holding every workspace's state: it may
// be reached through a symbolic link (a home on another disk), but it must
// be a directory of this user that neither group nor others can write, or
// they could swap a workspace's state directory for their own.
func checkRoot(root string) error {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return fmt.Errorf("state root %s: %w", root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("state root %s is not a directory", root)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("state root %s belongs to user %d, not to you (%d); refusing to keep state there", root, st.Uid, os.Getuid())
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("state root %s is writable by others (mode %#o); refusing to keep state there (chmod go-w it)", root, st.Mode&0o777)
	}
	return nil
}

// ownDir checks dir is a real directory (never a symbolic link, never
// followed) of this user. With create, it makes dir (0700) if missing, and
// one that others can read or write is tightened to 0700 through a
// descriptor of the directory itself; without, a missing dir is an error
// wrapping fs.ErrNotExist and nothing is changed.
func ownDir(dir string, create bool) error {
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("state directory %s: %w", dir, fs.ErrNotExist)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("state directory %s is a symbolic link or not a directory; refusing to use it", dir)
	}
	if err != nil {
		return fmt.Errorf("opening state directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("opening state directory %s: %w", dir, err)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("state directory %s belongs to user %d, not to you (%d); refusing to use it", dir, st.Uid, os.Getuid())
	}
	if st.Mode&0o077 != 0 && create {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("state directory %s is accessible to others (%#o) and cannot be tightened: %w", dir, st.Mode&0o777, err)
		}
	}
	return nil
}
