//go:build !unix

package native

import (
	"fmt"
	"io/fs"
)

// checkSocketFile refuses a link; Windows has no socket owner in its
// FileInfo (the state directory's ACL guards it).
func checkSocketFile(fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("it is not a socket but %s", fileKind(fi.Mode()))
	}
	return nil
}
