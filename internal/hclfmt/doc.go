// Package hclfmt formats HCL source in the canonical layout: it is
// hclwrite.Format of github.com/hashicorp/hcl/v2 (v2.25.0), copied with the
// few token helpers it needs, so that kpf does not link hclwrite.
//
// Why: hclwrite imports github.com/google/go-cmp, whose package init
// compiles regular expressions with Unicode classes, ~1.2 ms of every kpf
// command's start (GODEBUG=inittrace=1), for the one command that formats
// (kpf fmt) and kpf init's quoting. Package init runs for every linked
// package whatever the command, so the only way to drop it is not to link
// it. TestFormatMatchesHclwrite (and FuzzFormat) check the copy against
// hclwrite itself; the layers test in cmd/kpf keeps hclwrite and go-cmp out
// of the binary.
//
// format.go is hclwrite's format.go unchanged but for its package clause;
// tokens.go and quote.go hold the parts of hclwrite's tokens.go, parser.go,
// public.go and generate.go it uses. Those files stay under the Mozilla
// Public License 2.0 (LICENSE in this directory), as in HCL.
package hclfmt
