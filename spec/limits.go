package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Limits on hostile input. A real spec stays far below each of them (a
// 1,000-forward kpf.hcl is about 180 KB, nests 4 to 6 levels deep and
// evaluates to a few hundred KB); they exist so that a spec written to
// crash kpf (or saved by accident under apply --watch) is a diagnostic at
// the place that exceeds them, never a stack overflow or an exhausted
// memory.
const (
	// MaxFileSize is the largest spec or variables file kpf reads, in
	// bytes. hclsyntax keeps about 100 bytes per token, so 1 MiB of
	// one-character tokens is ~100 MB while parsing.
	MaxFileSize = 1 << 20

	// MaxNestingDepth is the deepest nesting of brackets, braces, quotes,
	// heredocs, template sequences and %{if}/%{for} directives a file may
	// have, counting also each ? of a conditional chain and each unary
	// - or ! applied in a row. It is checked on the bytes before HCL
	// parses them: hclsyntax parses recursively, and a few hundred
	// thousand levels overflow the goroutine stack (a fatal error that no
	// recover catches).
	MaxNestingDepth = 100

	// MaxValueSize bounds one evaluated value: a local, an attribute, a
	// function argument or result. The size counts one per byte of a
	// string and one per element, attribute or number; a value shared
	// twice counts twice (go-cty walks it twice).
	MaxValueSize = 1 << 18

	// MaxEvalWork bounds the evaluation of a whole workspace: the sum of
	// the sizes every function returns and every for expression element
	// and interpolated template part has, plus IterationCost per element a
	// for expression iterates over. Three nested for expressions over
	// range(1024) would need 2^33; a 1,000-forward spec needs a few
	// thousand. At the cap a load takes about a second, not forever.
	MaxEvalWork = 1 << 20

	// IterationCost is what one iteration of a for expression costs of
	// MaxEvalWork: HCL spends about as long on one iteration as on
	// measuring eight elements of a value.
	IterationCost = 8
)

// Minimum durations. Every duration in the spec has one, so that a typo
// such as "1ns" or "5ms" is a diagnostic rather than a watch or an agent
// spinning a core: each value below is short enough for any use a person
// would have for it and long enough that the work it paces stays a small
// fraction of a core.
const (
	// MinProbeCacheTTL: a watch pass probes each forward's port (two
	// dials, 127.0.0.1 and ::1); a cache that lives less than a pass
	// takes saves nothing.
	MinProbeCacheTTL = 100 * time.Millisecond
	// MinCheckInterval: the timer is only a safety net (runtimes report
	// exits at once), and each pass observes every forward.
	MinCheckInterval = 500 * time.Millisecond
	// MinHealthInterval is Kubernetes' own floor for a probe's
	// periodSeconds; each check opens a stream through the tunnel.
	MinHealthInterval = time.Second
	// MinHealthTimeout: below it a check through a busy tunnel fails for
	// no fault of the pod, and the forward flaps.
	MinHealthTimeout = 100 * time.Millisecond
)

// durationMin is the minimum of one duration attribute and why it is there.
type durationMin struct {
	min time.Duration
	why string
}

// minDurations holds the minimum of every duration attribute, by name
// (interval and timeout are the health block's).
var minDurations = map[string]durationMin{
	"probe_cache_ttl": {MinProbeCacheTTL, "a shorter cache saves no probe"},
	"check_interval":  {MinCheckInterval, "forward exits are reported at once; the timer is a safety net"},
	"interval":        {MinHealthInterval, "Kubernetes' own minimum for a probe"},
	"timeout":         {MinHealthTimeout, "a shorter check fails on a busy tunnel"},
}

// minDuration is the minimum of the duration attribute name; a name with
// none needs only to be positive.
func minDuration(name string) durationMin {
	if m, ok := minDurations[name]; ok {
		return m
	}
	return durationMin{min: 1, why: "it must be positive"}
}

// fileRange is the first position of a file, for diagnostics about the file
// as a whole.
func fileRange(name string) *hcl.Range {
	return &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// readSpecFile reads dir/name, refusing a symlink that resolves outside
// dir, anything that is not a regular file and anything larger than
// MaxFileSize. The content of a refused file is never read.
func readSpecFile(dir, name string) ([]byte, hcl.Diagnostics) {
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, cannotRead(specKind, name, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, cannotRead(specKind, name, err)
		}
		root, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, cannotRead(specKind, name, err)
		}
		if !within(root, target) {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Spec file outside the workspace",
				Detail:   fmt.Sprintf("%s is a symbolic link to a file outside the workspace directory, so it is not read. Copy the file into the workspace, or link to a file inside it.", name),
				Subject:  fileRange(name),
			}}
		}
		path = target
	}
	return readLimited(specKind, path, name)
}

// What a file is, in diagnostics.
const (
	specKind = "spec"
	varsKind = "variables"
)

// within reports whether path is root or below it (both cleaned, absolute).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// readLimited reads a regular file of at most MaxFileSize bytes; name is
// the file's name in diagnostics, kind says what it is.
func readLimited(kind, path, name string) ([]byte, hcl.Diagnostics) {
	// Opening a FIFO blocks until it has a writer: look before opening,
	// and open without blocking in case it changed in between.
	if fi, err := os.Stat(path); err != nil {
		return nil, cannotRead(kind, name, err)
	} else if !fi.Mode().IsRegular() {
		return nil, cannotRead(kind, name, errors.New("not a regular file"))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, cannotRead(kind, name, errors.New("not a regular file"))
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge(kind, name, fi.Size())
	}
	// The file may grow between Stat and read: read one byte past the cap.
	src := make([]byte, 0, fi.Size()+1)
	src, err = readAll(io.LimitReader(f, MaxFileSize+1), src)
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	if len(src) > MaxFileSize {
		return nil, tooLarge(kind, name, int64(len(src)))
	}
	return src, nil
}

// readAll is io.ReadAll into buf, which is sized for the whole file.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func cannotRead(kind, name string, err error) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Cannot read " + kind + " file",
		Detail:   fmt.Sprintf("Reading %s: %s.", name, err),
		Subject:  fileRange(name),
	}}
}

func tooLarge(kind, name string, size int64) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  upperFirst(kind) + " file too large",
		Detail:   fmt.Sprintf("%s has %d bytes; kpf reads %s files of at most %d bytes (MaxFileSize).", name, size, kind, MaxFileSize),
		Subject:  fileRange(name),
	}}
}

// checkNesting scans src the way hclsyntax's lexer does (comments, quoted
// and heredoc templates, template sequences) without building tokens, and
// reports the first place where the nesting depth exceeds MaxNestingDepth.
// It is linear in len(src), allocates only its stacks, and mirrors the
// lexer's brace bookkeeping so that it never disagrees with the lexer about
// what is code and what is text (FuzzNesting checks it against
// hclsyntax.LexConfig).
func checkNesting(src []byte, name string) hcl.Diagnostics {
	off, depth := nestingExceeds(src, MaxNestingDepth)
	if off < 0 {
		return nil
	}
	pos := offsetPos(src, off)
	end := pos
	end.Byte++
	end.Column++
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail:   fmt.Sprintf("The nesting reaches %d levels here, more than the %d kpf allows (MaxNestingDepth; brackets, braces, quotes, heredocs, template sequences and directives, conditionals in a chain, unary operators in a row). kpf refuses the file before parsing it; split the expression up with locals.", depth, MaxNestingDepth),
		Subject:  &hcl.Range{Filename: name, Start: pos, End: end},
	}}
}

// offsetPos converts a byte offset into a position; columns count runes.
func offsetPos(src []byte, off int) hcl.Pos {
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{Line: line, Column: utf8.RuneCount(src[start:off]) + 1, Byte: off}
}

// Scanner modes, as the lexer's call stack.
const (
	modeCode = iota
	modeString
	modeHeredoc
)

type scanFrame struct {
	mode        int
	marker      []byte // heredoc end marker
	startOfLine bool   // heredoc: at the start of a line
}

// nestScanner holds the state of nestingExceeds.
type nestScanner struct {
	frames    []scanFrame
	retBraces []int // brace counts at which a template sequence ends (the lexer's)
	braces    int
	brackets  []byte // open ( [ { and $ (template sequence), innermost last
	questions []int  // ? seen at each bracket level; questions[0] is the top level
	controls  int    // open %{if} and %{for}
	unary     int    // - or ! in a row
}

func (s *nestScanner) depth() int {
	return len(s.frames) - 1 + len(s.brackets) + s.controls + s.unary + s.questions[len(s.questions)-1]
}

func (s *nestScanner) push(b byte) {
	s.brackets = append(s.brackets, b)
	s.questions = append(s.questions, 0)
}

func (s *nestScanner) truncate(n int) {
	s.brackets = s.brackets[:n]
	s.questions = s.questions[:n+1]
}

// popBrace pops down to and including the innermost brace or template
// sequence, as the lexer's brace count does; nothing when there is none.
func (s *nestScanner) popBrace() {
	for i := len(s.brackets) - 1; i >= 0; i-- {
		if b := s.brackets[i]; b == '{' || b == '$' {
			s.truncate(i)
			return
		}
	}
}

func (s *nestScanner) popIf(open byte) {
	if n := len(s.brackets); n > 0 && s.brackets[n-1] == open {
		s.truncate(n - 1)
	}
}

// nestingExceeds returns the offset of the first byte at which the depth
// exceeds max, and that depth; -1 when it never does.
//
// It is one byte-level scanner loop (a state machine over HCL's
// strings, templates, heredocs and comments) kept in one piece so that
// its states read together; it runs before any parse, on hostile input.
func nestingExceeds(src []byte, max int) (int, int) {
	s := &nestScanner{
		frames:    make([]scanFrame, 1, 16),
		brackets:  make([]byte, 0, 16),
		questions: make([]int, 1, 16),
	}
	n := len(src)
	i := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		i = 3
	}
	for i < n {
		top := &s.frames[len(s.frames)-1]
		c := src[i]
		if top.mode != modeCode {
			if top.mode == modeHeredoc && top.startOfLine {
				end := bytes.IndexByte(src[i:], '\n')
				if end >= 0 && bytes.Equal(bytes.TrimSpace(src[i:i+end]), top.marker) {
					i += end + 1
					s.frames = s.frames[:len(s.frames)-1]
					continue
				}
				top.startOfLine = false
			}
			switch {
			case c == '"' && top.mode == modeString:
				s.frames = s.frames[:len(s.frames)-1]
				i++
			case c == '\\' && top.mode == modeString:
				i++
				if i < n && src[i] != '\n' && src[i] != '\r' {
					i++
				}
			case c == '\n' && top.mode == modeHeredoc:
				top.startOfLine = true
				i++
			case (c == '$' || c == '%') && i+2 < n && src[i+1] == c && src[i+2] == '{':
				i += 3 // $${ and %%{ are literal
			case (c == '$' || c == '%') && i+1 < n && src[i+1] == '{':
				i += 2
				if i < n && src[i] == '~' {
					i++
				}
				top.startOfLine = false
				s.braces++
				s.retBraces = append(s.retBraces, s.braces)
				s.push('$')
				if c == '%' {
					s.directive(src[i:])
				}
				s.frames = append(s.frames, scanFrame{mode: modeCode})
				if d := s.depth(); d > max {
					return i - 2, d
				}
			default:
				i++
			}
			continue
		}

		if c != '-' && c != '!' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			s.unary = 0
		}
		at := i
		i++
		switch c {
		case '#':
			i = lineEnd(src, at)
		case '/':
			if i < n && src[i] == '/' {
				i = lineEnd(src, at)
			} else if i < n && src[i] == '*' {
				if end := bytes.Index(src[i+1:], []byte("*/")); end >= 0 {
					i += 1 + end + 2
				} // unterminated: the lexer reads on as code
			}
			continue
		case '"':
			s.frames = append(s.frames, scanFrame{mode: modeString})
		case '<':
			m, next, ok := heredocStart(src, at)
			if !ok {
				continue
			}
			s.frames = append(s.frames, scanFrame{mode: modeHeredoc, marker: m, startOfLine: true})
			i = next
		case '(', '[':
			s.push(c)
		case ')':
			s.popIf('(')
			continue
		case ']':
			s.popIf('[')
			continue
		case '{':
			s.braces++
			s.push('{')
		case '~':
			if i >= n || src[i] != '}' {
				continue
			}
			i++
			s.closeBrace()
			continue
		case '}':
			s.closeBrace()
			continue
		case '?':
			s.questions[len(s.questions)-1]++
		case ',':
			s.questions[len(s.questions)-1] = 0
			continue
		case '\n':
			if len(s.brackets) == 0 || s.brackets[len(s.brackets)-1] == '{' {
				s.questions[len(s.questions)-1] = 0
			}
			continue
		case '!':
			if i < n && src[i] == '=' {
				s.unary = 0
				i++
				continue
			}
			s.unary++
		case '-':
			s.unary++
		default:
			if c >= utf8.RuneSelf || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				// Identifiers and numbers may contain '-': skip them whole.
				i = wordEnd(src, i)
			}
			continue
		}
		if d := s.depth(); d > max {
			return at, d
		}
	}
	return -1, 0
}

// closeBrace handles } (and ~}) in code: the end of a template sequence
// when the brace count says so, else a closing brace.
func (s *nestScanner) closeBrace() {
	if n := len(s.retBraces); n > 0 && s.retBraces[n-1] == s.braces {
		s.retBraces = s.retBraces[:n-1]
		s.braces--
		s.popBrace()
		if len(s.frames) > 1 {
			s.frames = s.frames[:len(s.frames)-1]
		}
		return
	}
	s.braces--
	s.popBrace()
}

// directive counts the if and for directives that a %{ opens and the
// endif and endfor that close them; src starts after "%{" (and "~").
func (s *nestScanner) directive(src []byte) {
	j := 0
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	k := j
	for k < len(src) && src[k] >= 'a' && src[k] <= 'z' {
		k++
	}
	switch string(src[j:k]) {
	case "if", "for":
		s.controls++
	case "endif", "endfor":
		if s.controls > 0 {
			s.controls--
		}
	}
}

// lineEnd returns the index of the newline that ends the line at i (or len).
func lineEnd(src []byte, i int) int {
	if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(src)
}

// wordEnd skips an identifier or number starting at i: letters, digits,
// '_', '-', '.' and non-ASCII runes.
func wordEnd(src []byte, i int) int {
	for i < len(src) {
		c := src[i]
		if c >= utf8.RuneSelf || c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			i++
			continue
		}
		break
	}
	return i
}

// heredocStart matches <<MARKER or <<-MARKER followed by a newline at i,
// returning the marker and the index after the newline.
func heredocStart(src []byte, i int) ([]byte, int, bool) {
	j := i + 2
	if j > len(src) || src[i+1] != '<' {
		return nil, 0, false
	}
	if j < len(src) && src[j] == '-' {
		j++
	}
	start := j
	for j < len(src) {
		r, size := utf8.DecodeRune(src[j:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if j == start && !(r == '_' || isIDStart(r)) {
			return nil, 0, false
		}
		if j > start && !(r == '-' || isIDContinue(r)) {
			break
		}
		j += size
	}
	if j == start {
		return nil, 0, false
	}
	marker := src[start:j]
	switch {
	case j < len(src) && src[j] == '\n':
		return marker, j + 1, true
	case j+1 < len(src) && src[j] == '\r' && src[j+1] == '\n':
		return marker, j + 2, true
	}
	return nil, 0, false
}

func isIDStart(r rune) bool {
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Other_ID_Start) && !unicode.In(r, unicode.Pattern_Syntax, unicode.Pattern_White_Space)
}

func isIDContinue(r rune) bool {
	return isIDStart(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc, unicode.Other_ID_Continue) && !unicode.In(r, unicode.Pattern_Syntax, unicode.Pattern_White_Space)
}
