//go:build unix

package native

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkSocketFile is what dial checks of the socket file fi before it
// connects: a socket (not a link to one elsewhere), owned by this user.
func checkSocketFile(fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("it is not a socket but %s", fileKind(fi.Mode()))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("it belongs to uid %d, not %d", st.Uid, os.Geteuid())
	}
	return nil
}
