//go:build !unix

package state

import (
	"fmt"
	"os"
)

// checkRoot checks that root is a directory; this OS has no Unix owner and
// mode bits to check.
func checkRoot(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("state root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state root %s is not a directory", root)
	}
	return nil
}

// ownDir refuses a link or a non-directory; with create it makes dir if
// missing, without a missing dir is an error wrapping fs.ErrNotExist.
func ownDir(dir string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("opening state directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is a link or not a directory; refusing to use it", dir)
	}
	return nil
}
