// Copyright IBM Corp. 2014, 2026
// SPDX-License-Identifier: MPL-2.0

// From hclwrite's tokens.go, parser.go (lexConfig, writerTokens) and
// public.go (Format), github.com/hashicorp/hcl/v2 v2.25.0.

package hclfmt

import (
	"bufio"
	"bytes"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Format takes source code and performs simple whitespace changes to
// transform it to a canonical layout style, as hclwrite.Format does. It
// ignores syntax errors.
func Format(src []byte) []byte {
	tokens := lexConfig(src)
	format(tokens)
	buf := &bytes.Buffer{}
	_, _ = tokens.WriteTo(buf) // a bytes.Buffer does not fail
	return buf.Bytes()
}

// Token is a single sequence of bytes annotated with a type.
type Token struct {
	Type  hclsyntax.TokenType
	Bytes []byte

	// The number of spaces before the token.
	SpacesBefore int
}

// asHCLSyntax returns the receiver expressed as an incomplete hclsyntax.Token.
func (t *Token) asHCLSyntax() hclsyntax.Token {
	return hclsyntax.Token{
		Type:  t.Type,
		Bytes: t.Bytes,
		Range: hcl.Range{
			Filename: "<invalid>",
		},
	}
}

// Tokens is a flat list of tokens.
type Tokens []*Token

// Columns returns the number of columns (grapheme clusters) the token sequence
// occupies. The result is not meaningful if there are newline or single-line
// comment tokens in the sequence.
func (ts Tokens) Columns() int {
	ret := 0
	for _, token := range ts {
		ret += token.SpacesBefore // spaces are always worth one column each
		ret += graphemeCount(token.Bytes)
	}
	return ret
}

func graphemeCount(buf []byte) int {
	scanner := bufio.NewScanner(bytes.NewReader(buf))
	scanner.Split(scanGraphemeClusters)
	var ret int
	for scanner.Scan() {
		ret++
	}
	return ret
}

// WriteTo writes the bytes of each token to wr, along with the spacing
// that separates each token.
func (ts Tokens) WriteTo(wr io.Writer) (int64, error) {
	spaces := bytes.Repeat([]byte{' '}, 40)
	var n int64
	var err error
	for _, token := range ts {
		if err != nil {
			return n, err
		}
		for spacesBefore := token.SpacesBefore; spacesBefore > 0; spacesBefore -= len(spaces) {
			thisChunk := min(spacesBefore, len(spaces))
			var thisN int
			thisN, err = wr.Write(spaces[:thisChunk])
			n += int64(thisN)
			if err != nil {
				return n, err
			}
		}
		var thisN int
		thisN, err = wr.Write(token.Bytes)
		n += int64(thisN)
	}
	return n, err
}

// lexConfig uses the hclsyntax scanner to get a token stream and then
// rewrites it into this package's token model. Scanning errors are ignored.
func lexConfig(src []byte) Tokens {
	mainTokens, _ := hclsyntax.LexConfig(src, "", hcl.Pos{Byte: 0, Line: 1, Column: 1})
	return writerTokens(mainTokens)
}

// writerTokens takes a sequence of tokens as produced by the main hclsyntax
// package and transforms it into an equivalent sequence of tokens using
// this package's own token model.
func writerTokens(nativeTokens hclsyntax.Tokens) Tokens {
	tokBuf := make([]Token, len(nativeTokens))
	var lastByteOffset int
	for i, mainToken := range nativeTokens {
		// A copy of the bytes, so that format can mutate them.
		bytes := make([]byte, len(mainToken.Bytes))
		copy(bytes, mainToken.Bytes)
		tokBuf[i] = Token{
			Type:         mainToken.Type,
			Bytes:        bytes,
			SpacesBefore: mainToken.Range.Start.Byte - lastByteOffset,
		}
		lastByteOffset = mainToken.Range.End.Byte
	}
	ret := make(Tokens, len(tokBuf))
	for i := range ret {
		ret[i] = &tokBuf[i]
	}
	return ret
}
