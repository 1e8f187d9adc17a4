//go:build !unix

package names

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockDir takes a lock file in dir, created exclusively; one left by a
// killed kpf is taken over after a minute.
func lockDir(dir string) (func(), error) {
	p := filepath.Join(dir, ".kpf-hosts.lock")
	for i := 0; ; i++ {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(p) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(p)
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}
