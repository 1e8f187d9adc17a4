// Copyright IBM Corp. 2014, 2026
// SPDX-License-Identifier: MPL-2.0

//go:build !go1.27

package hclfmt

import textseg "github.com/apparentlymart/go-textseg/v15/textseg"

// scanGraphemeClusters is the grapheme splitter hclwrite uses with this Go
// version (hcl's internal/unicodeutil).
func scanGraphemeClusters(data []byte, atEOF bool) (int, []byte, error) {
	return textseg.ScanGraphemeClusters(data, atEOF)
}
