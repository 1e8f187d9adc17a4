// Copyright IBM Corp. 2014, 2026
// SPDX-License-Identifier: MPL-2.0

// From hclwrite's generate.go (TokensForValue of a string,
// escapeQuotedStringLit), github.com/hashicorp/hcl/v2 v2.25.0.

package hclfmt

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Quote returns s as an HCL quoted string literal, quotes included: the
// bytes of hclwrite.TokensForValue(cty.StringVal(s)).
func Quote(s string) []byte {
	buf := make([]byte, 0, len(s)+2)
	buf = append(buf, '"')
	for i, r := range s {
		switch r {
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '$', '%':
			buf = utf8.AppendRune(buf, r)
			if remain := s[i+1:]; len(remain) > 0 && remain[0] == '{' {
				// Double up the template introducer to escape it.
				buf = utf8.AppendRune(buf, r)
			}
		default:
			if !unicode.IsPrint(r) {
				if r < 65536 {
					buf = fmt.Appendf(buf, "\\u%04x", r)
				} else {
					buf = fmt.Appendf(buf, "\\U%08x", r)
				}
			} else {
				buf = utf8.AppendRune(buf, r)
			}
		}
	}
	return append(buf, '"')
}
