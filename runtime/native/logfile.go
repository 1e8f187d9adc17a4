package native

import (
	"fmt"
	"os"
	"sync"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// MaxAgentLog is the size past which the agent's log moves to
// agent.log.1 (replacing the one before).
const MaxAgentLog = 1 << 20

// Rotating is an append-only log file that moves itself to PATH.1 once it
// is past its size limit, so an agent that runs for weeks never fills the
// disk. It is safe for concurrent use.
type Rotating struct {
	path string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (creating 0600) the log at path. A link or anything
// but a regular file there is refused (safefs.ErrNotRegular).
func OpenRotating(path string, max int64) (*Rotating, error) {
	r := &Rotating{path: path, max: max}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rotating) open() error {
	f, err := safefs.Append(r.path, 0o600) // never through a link, never into a FIFO
	if err != nil {
		return fmt.Errorf("opening the agent log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening the agent log: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when the file is past its limit.
func (r *Rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		_ = r.f.Close()
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return 0, fmt.Errorf("rotating the agent log: %w", err)
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// Close closes the file.
func (r *Rotating) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
