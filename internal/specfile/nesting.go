package specfile

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// CheckNesting scans src the way hclsyntax's lexer does (comments, quoted
// and heredoc templates, template sequences) without building tokens, and
// reports the first place where the nesting depth exceeds MaxNestingDepth.
// It is linear in len(src), allocates only its stacks, and mirrors the
// lexer's brace bookkeeping so that it never disagrees with the lexer about
// what is code and what is text (FuzzNesting checks it against
// hclsyntax.LexConfig).
func CheckNesting(src []byte, name string) hcl.Diagnostics {
	off, depth := NestingExceeds(src, MaxNestingDepth)
	if off < 0 {
		return nil
	}
	pos := OffsetPos(src, off)
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

// OffsetPos converts a byte offset into a position; columns count runes.
func OffsetPos(src []byte, off int) hcl.Pos {
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

// nestScanner holds the state of NestingExceeds.
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

// NestingExceeds returns the offset of the first byte at which the depth
// exceeds max, and that depth; -1 when it never does.
//
// It is one byte-level scanner loop (a state machine over HCL's
// strings, templates, heredocs and comments) kept in one piece so that
// its states read together; it runs before any parse, on hostile input.
func NestingExceeds(src []byte, max int) (int, int) {
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
