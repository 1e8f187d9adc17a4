package redact

import (
	"bytes"
	"io"
	"sync"
)

// maxPending bounds the partial line a Writer keeps: a longer one is
// written out scrubbed as it is.
const maxPending = 64 << 10

// Writer scrubs what is written through it line by line, so that a value
// split across two writes (a copy in chunks) is still found. A partial
// last line is kept until its newline comes, or Flush. It is safe for
// concurrent use.
type Writer struct {
	s *Scrubber
	w io.Writer

	mu      sync.Mutex
	pending []byte
}

// Writer returns a Writer that scrubs with s and writes to w.
func (s *Scrubber) Writer(w io.Writer) *Writer { return &Writer{s: s, w: w} }

// Write writes p's complete lines, scrubbed, and keeps the rest.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, p...)
	i := bytes.LastIndexByte(w.pending, '\n')
	if i < 0 && len(w.pending) <= maxPending {
		return len(p), nil
	}
	if i < 0 {
		i = len(w.pending) - 1
	}
	lines := w.pending[:i+1]
	if _, err := io.WriteString(w.w, w.s.Scrub(string(lines))); err != nil {
		w.pending = w.pending[:0]
		return 0, err
	}
	w.pending = append(w.pending[:0], w.pending[i+1:]...)
	return len(p), nil
}

// Flush writes the partial line kept, scrubbed.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(w.w, w.s.Scrub(string(w.pending)))
	w.pending = w.pending[:0]
	return err
}
