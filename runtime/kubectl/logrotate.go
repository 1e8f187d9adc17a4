package kubectl

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// RotatedMarker begins the line a log starts with after it was rotated
// while its forward ran.
const RotatedMarker = "--- kpf: log rotated "

// rotateRunning keeps the log of a running forward bounded. kubectl holds
// the log open with O_APPEND and outlives kpf, so the log cannot be
// renamed under it (kubectl would go on writing to the renamed file):
// past MaxLogSize it is copied to NAME.log.1 (replacing the one before,
// written to a temp file and renamed, so NAME.log.1 is always whole) and
// truncated in place; kubectl's next write lands at the new end. Whichever
// kpf inspects the forward first does it; an exclusive flock on the log
// makes concurrent kpfs take turns. Bytes kubectl writes in the instant
// between the last copy and the truncation are lost (as with logrotate's
// copytruncate); the copy is repeated until the size holds still to keep
// that instant short.
func rotateRunning(path string) (rotated bool, err error) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= MaxLogSize {
		return false, nil
	}
	f, err := safefs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return false, fmt.Errorf("rotating forward log: %w", err)
	}
	defer f.Close()
	locked, err := tryLock(f)
	if err != nil || !locked {
		return false, err // another kpf is rotating it
	}
	if fi, err := f.Stat(); err != nil || fi.Size() <= MaxLogSize {
		return false, err // rotated meanwhile
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return false, fmt.Errorf("rotating forward log: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	var copied int64
	for range 5 {
		n, err := io.Copy(tmp, io.NewSectionReader(f, copied, 1<<62))
		copied += n
		if err != nil {
			return false, fmt.Errorf("rotating forward log: %w", err)
		}
		if n == 0 {
			break
		}
	}
	if err = tmp.Close(); err != nil {
		return false, fmt.Errorf("rotating forward log: %w", err)
	}
	if err = os.Rename(tmp.Name(), path+".1"); err != nil {
		return false, fmt.Errorf("rotating forward log: %w", err)
	}
	if err = f.Truncate(0); err != nil {
		return false, fmt.Errorf("truncating rotated forward log: %w", err)
	}
	_, _ = fmt.Fprintf(f, "%s%s: %d bytes moved to %s\n", RotatedMarker, time.Now().UTC().Format(time.RFC3339), copied, filepath.Base(path)+".1")
	return true, nil
}
