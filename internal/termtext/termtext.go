package termtext

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// unsafeRune reports whether r must not reach a terminal as is: C0 and C1
// controls, DEL, and the invisible characters that reorder or hide text
// (bidirectional marks, embeddings, overrides and isolates).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Escape returns s with every character that must not reach a terminal
// (unsafeRune, newlines and tabs included: s is one field of one line) and
// every invalid UTF-8 byte written as a Go escape. Safe text is returned as
// is, without allocating.
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for multi-line text: newlines and tabs are kept.
func EscapeText(s string) string { return escape(s, true) }

func clean(s string, keepLines bool) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
		if unsafeRune(r) && !(keepLines && (r == '\n' || r == '\t')) {
			return i
		}
	}
	return -1
}

func escape(s string, keepLines bool) string {
	i := clean(s, keepLines)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Writer escapes what is written through it with EscapeText before passing
// it on. A UTF-8 sequence split between two writes is kept until the next
// one completes it; Flush writes what is left.
type Writer struct {
	w    io.Writer
	tail []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it; it reports len(p) on success.
func (e *Writer) Write(p []byte) (int, error) {
	buf := append(e.tail, p...)
	e.tail = nil
	// Keep an incomplete sequence at the end for the next write.
	for k := 1; k <= utf8.UTFMax-1 && k <= len(buf); k++ {
		c := buf[len(buf)-k]
		if c < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(buf[len(buf)-k:]) {
				e.tail = append([]byte(nil), buf[len(buf)-k:]...)
				buf = buf[:len(buf)-k]
			}
			break
		}
	}
	if _, err := io.WriteString(e.w, EscapeText(string(buf))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a trailing incomplete sequence, escaped.
func (e *Writer) Flush() error {
	if len(e.tail) == 0 {
		return nil
	}
	t := e.tail
	e.tail = nil
	_, err := io.WriteString(e.w, EscapeText(string(t)))
	return err
}
