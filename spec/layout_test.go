package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	// hclwrite is the reference Format is held to, in tests only: the
	// binary does not link it (layout.go).
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// layoutCases are inputs for the layout's rules one by one, each with the
// output hclwrite.Format gives (checked by TestFormatMatchesHclwrite too).
var layoutCases = []struct {
	name, src, want string
}{
	{"indent and align", "a {\nx=1\nlonger_name   =  2\n}\n", "a {\n  x           = 1\n  longer_name = 2\n}\n"},
	{"alignment runs break at a blank line", "a = 1\nbbb = 2\n\ncc = 3\n", "a   = 1\nbbb = 2\n\ncc = 3\n"},
	{"comments aligned", "a = 1 # one\nbbb = \"x\" // two\n", "a   = 1   # one\nbbb = \"x\" // two\n"},
	{"full-line comments indent", "a {\n# c\n  /* d */\n}\n", "a {\n  # c\n  /* d */\n}\n"},
	{"multi-line object is not aligned", "a = {\nb = 1\ncc = 2\n}\nd = 1\n", "a = {\n  b  = 1\n  cc = 2\n}\nd = 1\n"},
	{"brackets on one line are one level", "a = f({\nb = 1\n})\n", "a = f({\n  b = 1\n})\n"},
	{"calls, indexes, traversals", "a = f ( x . y [ 0 ] , - 1 , z ... )\n", "a = f(x.y[0], -1, z...)\n"},
	{"subtraction and negation", "a = b -1\nc = -d * -e\nf = (1)-2\n", "a = b - 1\nc = -d * -e\nf = (1) - 2\n"},
	{"not", "a = ! b\n", "a = !b\n"},
	{"braces", "a = {b=1}\nc = { }\n", "a = { b = 1 }\nc = {}\n"},
	{"for expressions", "a = [for x in [1,2]: x]\nb = {for k,v in m: k=>v}\n", "a = [for x in [1, 2] : x]\nb = { for k, v in m : k => v }\n"},
	{"templates kept", "a = \"x ${ b }  y %{ if c }d%{ endif }\"\n", "a = \"x ${b}  y %{if c}d%{endif}\"\n"},
	{"interpolated object", "a = \"${{b=1}}\"\n", "a = \"${ { b = 1 } }\"\n"},
	{"heredoc kept verbatim", "a {\nb = <<EOT\n  x = {\n}\n    EOT\nc = 1\n}\n", "a {\n  b = <<EOT\n  x = {\n}\n    EOT\n  c = 1\n}\n"},
	{"indented heredoc", "b = <<-EOT\n    x ${y}\n  EOT\n", "b = <<-EOT\n    x ${y}\n  EOT\n"},
	{"namespaced function", "a = provider :: x :: f(1)\n", "a = provider::x::f(1)\n"},
	{"wide characters count as graphemes", "é = 1\nee = 2\n", "é  = 1\nee = 2\n"},
	{"tabs become spaces", "a\t=\t1\n", "a = 1\n"},
	{"CRLF kept", "a=1\r\nbb=2\r\n", "a  = 1\r\nbb = 2\r\n"},
	{"no final newline, trailing blanks kept", "a=1   ", "a = 1   "},
	{"conditional", "a = b?c:d\n", "a = b ? c : d\n"},
	{"unbalanced closes do not dedent past the margin", "}\n}\na = 1\n", "}\n}\na = 1\n"},
	{"empty", "", ""},
}

func TestFormatLayout(t *testing.T) {
	for _, c := range layoutCases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(Format([]byte(c.src))); got != c.want {
				t.Errorf("Format(%q)\n got %q\nwant %q", c.src, got, c.want)
			}
		})
	}
}

// repoSpecs returns every .hcl file under the repository's examples/ and
// every testdata/ directory, by path.
func repoSpecs(t testing.TB) map[string][]byte {
	t.Helper()
	specs := map[string][]byte{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		slashed := filepath.ToSlash(path)
		if d.IsDir() || !strings.HasSuffix(path, ".hcl") ||
			!(strings.HasPrefix(slashed, "../examples/") || strings.Contains(slashed, "/testdata/")) {
			return nil
		}
		b, err := os.ReadFile(path)
		specs[slashed] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) < 20 {
		t.Fatalf("found %d specs under examples/ and testdata/; the walk is broken", len(specs))
	}
	return specs
}

// TestFormatMatchesHclwrite holds Format to hclwrite.Format on the
// repository's specs, the table's inputs and the starter spec.
func TestFormatMatchesHclwrite(t *testing.T) {
	inputs := repoSpecs(t)
	for _, c := range layoutCases {
		inputs["case "+c.name] = []byte(c.src)
		inputs["case "+c.name+" (formatted)"] = []byte(c.want)
	}
	inputs["starter"] = StarterSpec("a name", "")
	for name, src := range inputs {
		if got, want := Format(src), hclwrite.Format(src); string(got) != string(want) {
			t.Errorf("%s: Format and hclwrite.Format differ\n got %q\nwant %q", name, got, want)
		}
	}
}

// FuzzFormatMatchesHclwrite: on any input that parses, Format writes what
// hclwrite.Format writes (seeded from every spec in examples/ and testdata/).
func FuzzFormatMatchesHclwrite(f *testing.F) {
	for _, src := range repoSpecs(f) {
		f.Add(src)
	}
	for _, c := range layoutCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if checkNesting(src, "fuzz.hcl").HasErrors() {
			return // FormatDir formats no spec this deep (the parser recurses)
		}
		if _, diags := hclsyntax.ParseConfig(src, "fuzz.hcl", hcl.InitialPos); diags.HasErrors() {
			return // FormatDir formats only specs that parse
		}
		if got, want := Format(src), hclwrite.Format(src); string(got) != string(want) {
			t.Fatalf("Format(%q)\n got %q\nwant %q", src, got, want)
		}
	})
}

// TestQuoteHCLMatchesHclwrite holds the starter's quoting to what
// hclwrite.TokensForValue writes for the same string, and checks that HCL
// reads the quoted string back as the string.
func TestQuoteStringMatchesHclwrite(t *testing.T) {
	for _, s := range []string{
		"", "web", "kind-kind", `a "quoted" \ name`, "tab\there\nline\rcr",
		"${var.x}", "%{ if }", "$$", "100%", "$", "é", "e\u0301", "日本語",
		"\x00\x07\x7f", "\u200b\u2028", "\U0001F600", "\U000E0001", "bad \xff utf-8",
	} {
		got := string(QuoteString(s))
		want := strings.TrimSpace(string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes()))
		if got != want {
			t.Errorf("QuoteString(%q) = %s, hclwrite writes %s", s, got, want)
		}
		expr, diags := hclsyntax.ParseExpression([]byte(got), "q.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("QuoteString(%q) = %s does not parse: %s", s, got, diags.Error())
			continue
		}
		v, diags := expr.Value(nil)
		if !utf8.ValidString(s) {
			continue // an invalid byte is written as U+FFFD: no round trip
		}
		if diags.HasErrors() || !v.Equals(cty.StringVal(s)).True() {
			t.Errorf("QuoteString(%q) = %s reads back as %#v (%s)", s, got, v, diags.Error())
		}
	}
}
