package spec

import (
	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The canonical layout of kpf fmt, on hclsyntax's tokens. It is the layout
// `terraform fmt` and hclwrite.Format produce, written here so that the
// binary does not link hclwrite (and, through it, go-cmp, whose init costs
// every command ~1 ms: issue 20, point 11). layout_test.go holds it to
// hclwrite on every spec in the repository and under FuzzFormatMatchesHclwrite.
//
// Only the blanks between tokens change. The source is cut into lines at
// newline tokens (a # or // comment holds its newline, and a heredoc or a
// multi-line template string stays inside one line). Each line is split
// into up to three cells: its lead, its assignment (from a "=" whose
// right-hand side closes every bracket it opens) and a trailing comment.
// Then three passes set the blanks: the lead's indentation (two spaces per
// open bracket level), the spaces between the tokens of a cell (layoutGap),
// and the alignment of the "=" and of trailing comments over runs of
// consecutive lines that have them.

// layoutToken is one lexed token and the number of spaces written before it.
type layoutToken struct {
	typ    hclsyntax.TokenType
	bytes  []byte
	spaces int
}

// layoutLine is one line's cells: slices of one token array, so that
// setting spaces through them sets them in the array that is written.
type layoutLine struct {
	lead, assign, comment []layoutToken
}

// layout returns src in canonical layout. It works on any bytes, whether
// or not they parse (as hclwrite.Format does); FormatDir formats only specs
// that parse.
func layout(src []byte) []byte {
	lexed, _ := hclsyntax.LexConfig(src, "", hcl.Pos{Byte: 0, Line: 1, Column: 1})
	toks := make([]layoutToken, len(lexed))
	end := 0
	for i, t := range lexed {
		// The lexer skips only ASCII spaces (and tabs, counted one a
		// byte): what lies between two tokens becomes that many spaces.
		toks[i] = layoutToken{typ: t.Type, bytes: t.Bytes, spaces: t.Range.Start.Byte - end}
		end = t.Range.End.Byte
	}
	lines := layoutLines(toks)
	layoutIndent(lines)
	for _, l := range lines {
		layoutCellGaps(l.lead, false)
		layoutCellGaps(l.assign, true)
	}
	alignColumn(lines, func(l *layoutLine) []layoutToken { return l.assign }, func(l *layoutLine) int {
		return columns(l.lead)
	})
	alignColumn(lines, func(l *layoutLine) []layoutToken { return l.comment }, func(l *layoutLine) int {
		return columns(l.lead) + columns(l.assign)
	})

	size := 0
	for _, t := range toks {
		size += t.spaces + len(t.bytes)
	}
	out := make([]byte, 0, size)
	for _, t := range toks {
		for range t.spaces {
			out = append(out, ' ')
		}
		out = append(out, t.bytes...)
	}
	return out
}

// endsLine reports whether t ends a line: a newline, or a # or // comment,
// which holds the newline that ends it.
func endsLine(t layoutToken) bool {
	switch t.typ {
	case hclsyntax.TokenNewline:
		return true
	case hclsyntax.TokenComment:
		return len(t.bytes) > 0 && t.bytes[len(t.bytes)-1] == '\n'
	}
	return false
}

// layoutLines cuts toks into lines and each line into its cells. The EOF
// token belongs to no line: the spaces before it (trailing blanks of a file
// with no final newline) are written as they are.
func layoutLines(toks []layoutToken) []layoutLine {
	var lines []layoutLine
	start := 0
	for i, t := range toks {
		if t.typ == hclsyntax.TokenEOF {
			lines = append(lines, layoutLine{lead: toks[start:i]})
			start = len(toks)
			break
		}
		if endsLine(t) {
			lines = append(lines, layoutLine{lead: toks[start : i+1]})
			start = i + 1
		}
	}
	if start < len(toks) {
		lines = append(lines, layoutLine{lead: toks[start:]})
	}
	for i := range lines {
		l := &lines[i]
		if n := len(l.lead); n > 1 && l.lead[n-1].typ == hclsyntax.TokenComment {
			l.lead, l.comment = l.lead[:n-1], l.lead[n-1:]
		}
		// The first "=" after the line's first token starts the assign
		// cell, unless what follows it leaves brackets open (an object or
		// a list continued on the next lines): then nothing is aligned.
		for j := 1; j < len(l.lead); j++ {
			if l.lead[j].typ != hclsyntax.TokenEqual {
				continue
			}
			if bracketDepth(l.lead[j:]) == 0 {
				l.lead, l.assign = l.lead[:j], l.lead[j:]
			}
			break
		}
	}
	return lines
}

// bracketChange is +1 for a token that opens a bracket (including "${"
// and "%{"), -1 for one that closes one, 0 otherwise.
func bracketChange(t hclsyntax.TokenType) int {
	switch t {
	case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
		hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
		return 1
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenTemplateSeqEnd:
		return -1
	}
	return 0
}

func bracketDepth(toks []layoutToken) int {
	n := 0
	for _, t := range toks {
		n += bracketChange(t.typ)
	}
	return n
}

// layoutIndent indents each line's lead by two spaces per level. A line
// that opens more brackets than it closes opens one level, however many it
// opens, and remembers how many; the lines that close them close that level
// only once all of them are closed. So "foo({" ... "})" is one level, and
// brackets unbalanced within lines never push text past the margin. Brackets
// after a heredoc's opener on the same line are the heredoc's text and do
// not count.
func layoutIndent(lines []layoutLine) {
	var open []int // per level, the brackets still open at it
	for i := range lines {
		lead := lines[i].lead
		if len(lead) == 0 {
			continue
		}
		if lead[0].typ == hclsyntax.TokenNewline {
			lead[0].spaces = 0 // a blank line holds no spaces
			continue
		}
		net := 0
		for _, t := range lead {
			net += bracketChange(t.typ)
			if t.typ == hclsyntax.TokenOHeredoc {
				break
			}
		}
		net += bracketDepth(lines[i].assign)
		lead[0].spaces = 2 * len(open)
		switch {
		case net > 0:
			open = append(open, net)
		case net < 0:
			for closing := -net; closing > 0 && len(open) > 0; {
				top := &open[len(open)-1]
				if closing < *top {
					*top -= closing
					break
				}
				closing -= *top
				open = open[:len(open)-1]
			}
			lead[0].spaces = 2 * len(open)
		}
	}
}

// layoutCellGaps sets the spaces between the tokens of one cell. The first
// token of a lead keeps the indentation layoutIndent gave it; the first of
// an assign cell (its "=") gets one space, which alignColumn may widen.
func layoutCellGaps(cell []layoutToken, assign bool) {
	if assign && len(cell) > 0 {
		cell[0].spaces = 1
	}
	for i := 0; i+1 < len(cell); i++ {
		prev := hclsyntax.TokenNil
		if i > 0 {
			prev = cell[i-1].typ
		}
		if layoutGap(prev, cell[i], cell[i+1].typ) {
			cell[i+1].spaces = 1
		} else {
			cell[i+1].spaces = 0
		}
	}
}

// layoutGap reports whether one space goes between t and the token of type
// next; prev is the type of the token before t (TokenNil at a cell's start).
// The order of the cases matters: the first that applies decides.
func layoutGap(prev hclsyntax.TokenType, t layoutToken, next hclsyntax.TokenType) bool {
	switch {
	case next == hclsyntax.TokenNewline || next == hclsyntax.TokenNil:
		return false
	// Calls and namespaced function names stay whole: f(, ns::f.
	case t.typ == hclsyntax.TokenIdent && (next == hclsyntax.TokenOParen || next == hclsyntax.TokenDoubleColon),
		t.typ == hclsyntax.TokenDoubleColon && next == hclsyntax.TokenIdent:
		return false
	// Traversals: a.b, and nothing before a comma or "...".
	case t.typ == hclsyntax.TokenDot || next == hclsyntax.TokenDot,
		next == hclsyntax.TokenComma || next == hclsyntax.TokenEllipsis:
		return false
	case t.typ == hclsyntax.TokenComma:
		return true
	// The inside of a quoted string or heredoc is its own text.
	case isTemplateText(t.typ) || isTemplateText(next) ||
		t.typ == hclsyntax.TokenOQuote || t.typ == hclsyntax.TokenOHeredoc ||
		next == hclsyntax.TokenCQuote || next == hclsyntax.TokenCHeredoc:
		return false
	// "in" of a for expression after its variable: [for x in [a]: x],
	// not in[a] as if "in" were indexed.
	case t.typ == hclsyntax.TokenIdent && string(t.bytes) == "in" && prev == hclsyntax.TokenIdent:
		return true
	// Indexing: a[0], f(x)[0], 1[0].
	case next == hclsyntax.TokenOBrack &&
		(t.typ == hclsyntax.TokenIdent || t.typ == hclsyntax.TokenNumberLit || bracketChange(t.typ) < 0):
		return false
	case t.typ == hclsyntax.TokenBang:
		return false
	case t.typ == hclsyntax.TokenMinus:
		// Subtraction (a - b) or negation (-b): negation when what comes
		// before cannot end an operand.
		return !negationFollows(prev)
	// Braces are spaced inside ({ a = 1 }), except when empty ({}).
	case t.typ == hclsyntax.TokenOBrace || next == hclsyntax.TokenCBrace:
		return !(t.typ == hclsyntax.TokenOBrace && next == hclsyntax.TokenCBrace)
	// An interpolation of a lone object: "${ {a = 1} }".
	case (t.typ == hclsyntax.TokenTemplateInterp || t.typ == hclsyntax.TokenTemplateControl) && next == hclsyntax.TokenOBrace,
		t.typ == hclsyntax.TokenCBrace && next == hclsyntax.TokenTemplateSeqEnd:
		return true
	case t.typ == hclsyntax.TokenTemplateSeqEnd && (next == hclsyntax.TokenTemplateInterp || next == hclsyntax.TokenTemplateControl):
		return false
	// Nothing inside brackets next to them: (a), [1, 2].
	case bracketChange(t.typ) > 0 || bracketChange(next) < 0:
		return false
	}
	return true
}

func isTemplateText(t hclsyntax.TokenType) bool {
	return t == hclsyntax.TokenQuotedLit || t == hclsyntax.TokenStringLit
}

// negationFollows reports whether a minus after a token of type prev is a
// negation: at a cell's start, after an opening bracket, a separator, or an
// arithmetic, comparison or logical operator.
func negationFollows(prev hclsyntax.TokenType) bool {
	switch prev {
	case hclsyntax.TokenNil,
		hclsyntax.TokenOParen, hclsyntax.TokenOBrace, hclsyntax.TokenOBrack,
		hclsyntax.TokenEqual, hclsyntax.TokenColon, hclsyntax.TokenComma, hclsyntax.TokenQuestion,
		hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
		hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
		hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
		hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang:
		return true
	}
	return false
}

// alignColumn aligns, over each run of consecutive lines that have the cell
// cellOf, that cell's first token one space past the widest of the run's
// widths before it (width).
func alignColumn(lines []layoutLine, cellOf func(*layoutLine) []layoutToken, width func(*layoutLine) int) {
	for i := 0; i < len(lines); {
		if cellOf(&lines[i]) == nil {
			i++
			continue
		}
		j, widest := i, 0
		for ; j < len(lines) && cellOf(&lines[j]) != nil; j++ {
			widest = max(widest, width(&lines[j]))
		}
		for k := i; k < j; k++ {
			cellOf(&lines[k])[0].spaces = widest - width(&lines[k]) + 1
		}
		i = j
	}
}

// columns is the width of toks as an editor shows it: spaces one column
// each, and one column per grapheme cluster (an accented letter or an emoji
// written with several code points is one).
func columns(toks []layoutToken) int {
	n := 0
	for _, t := range toks {
		n += t.spaces
		for b := t.bytes; len(b) > 0; n++ {
			adv, _, _ := textseg.ScanGraphemeClusters(b, true)
			if adv <= 0 {
				break
			}
			b = b[adv:]
		}
	}
	return n
}
