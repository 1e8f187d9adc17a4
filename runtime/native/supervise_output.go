//go:build unix

package native

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kpf-dev/kpf/internal/redact"
)

// scrubbedOutput writes what serving agents print to w, line by line,
// scrubbed of every sensitive value the persisted forward set has named:
// the set is read again whenever it changed since the last line.
type scrubbedOutput struct {
	dir   string
	w     *redact.Writer
	scrub *redact.Scrubber
	seen  time.Time // modification time of the forward set last read
	size  int64
}

func newScrubbedOutput(stateDir string, w io.Writer) *scrubbedOutput {
	scrub := redact.New()
	return &scrubbedOutput{dir: stateDir, scrub: scrub, w: scrub.Writer(w)}
}

// copy copies r to the output until r ends, then writes a last partial
// line.
func (o *scrubbedOutput) copy(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if bytes.IndexByte(buf[:n], '\n') >= 0 {
				o.refresh() // before lines are written out
			}
			_, _ = o.w.Write(buf[:n])
		}
		if err != nil {
			o.refresh()
			_ = o.w.Flush()
			return
		}
	}
}

// refresh adds the sensitive values of the forward set on disk, if it
// changed since it was last read.
func (o *scrubbedOutput) refresh() {
	fi, err := os.Stat(filepath.Join(o.dir, ForwardsFile))
	if err != nil || (fi.ModTime().Equal(o.seen) && fi.Size() == o.size) {
		return
	}
	set, err := readForwardSet(o.dir)
	if err != nil {
		return
	}
	o.seen, o.size = fi.ModTime(), fi.Size()
	for _, f := range set.Forwards {
		o.scrub.Add(f.Spec.SensitiveValues()...)
	}
}
