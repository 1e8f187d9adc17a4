package hclfmt

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// formatCases are layouts hclwrite.Format changes or keeps; with every
// .hcl file of the repository they are the table of
// TestFormatMatchesHclwrite and the seeds of FuzzFormat.
var formatCases = map[string]string{
	"empty":              "",
	"alignment":          "a = 1\nlonger_name = 2\n\nb  =  3\n",
	"nested blocks":      "forward \"a\" {\ntarget=\"svc/x\"\n  health {\n http = \"/\"\n}\n}\n",
	"comments":           "# lead\na = 1 # line\n/* block */\nbb = 2 // other\n",
	"heredoc":            "a = <<EOT\n  keep   this\nEOT\nb = <<-EOT\n    indented\n    EOT\n",
	"expressions":        "a = var.x+1\nb = [1,2 ,3]\nc = {k=\"v\", kk = 2}\nd = !true\ne = -1\nf = x ? y : z\n",
	"function calls":     "a = format(\"%s\", var.x)\nb = upper( \"x\" )\n",
	"for expressions":    "a = [for x in var.l: x if x != \"\"]\nb = {for k, v in var.m : k => v...}\n",
	"templates":          "a = \"${var.x}-%{if true}y%{endif}\"\n",
	"unicode alignment":  "naïve = 1\nb = 2\n日本 = 3\n",
	"tabs and crlf":      "a\t=\t1\r\nbb = 2\r\n",
	"syntax error":       "forward \"a\" {\n  target = \n",
	"unbalanced":         "a = [1,\n2\nb = {\n",
	"splat and index":    "a = var.l[*].x\nb = var.l[0]\nc = var.m[\"k\"].y\n",
	"legacy index":       "a = var.l.0.x\n",
	"in keyword":         "a = [for in in var.in: in]\n",
	"trailing spaces":    "a = 1   \n\n\n\nb = 2",
	"one-line block":     "kpf { name = \"x\" }\n",
	"attribute chains":   "a = 1\n# c\nbbb = 2\nblock {}\ncc = 3\n",
	"double colon":       "a = provider::x::f(1)\n",
	"ellipsis and comma": "a = f(x...)\nb = [1 , 2 ,]\n",
}

// corpus is formatCases plus every .hcl file under the repository's root.
func corpus(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, src := range formatCases {
		out[name] = []byte(src)
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".hcl") || strings.HasSuffix(path, ".hcl.golden")) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[path] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < len(formatCases)+10 {
		t.Fatalf("only %d inputs: the repository's .hcl files were not found", len(out))
	}
	return out
}

// TestFormatMatchesHclwrite checks the copy against hclwrite itself, which
// the tests (only) still link.
func TestFormatMatchesHclwrite(t *testing.T) {
	for name, src := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			want := hclwrite.Format(bytes.Clone(src))
			if got := Format(bytes.Clone(src)); !bytes.Equal(got, want) {
				t.Errorf("Format differs from hclwrite.Format\ninput:\n%s\ngot:\n%s\nwant:\n%s", src, got, want)
			}
		})
	}
}

func FuzzFormat(f *testing.F) {
	for _, src := range formatCases {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		want := hclwrite.Format(bytes.Clone(src))
		if got := Format(bytes.Clone(src)); !bytes.Equal(got, want) {
			t.Errorf("Format(%q) = %q, hclwrite.Format = %q", src, got, want)
		}
	})
}

func TestQuoteMatchesHclwrite(t *testing.T) {
	for _, s := range []string{
		"", "plain", "kind-kind", "with \"quotes\"", `back\slash`, "tab\tnew\nline\rcr",
		"${interp}", "%{directive}", "$ alone", "% alone", "$$", "ends with $", "ends with %",
		"naïve 日本", "\x00control\x1b", "\u2028 separator", "\U0001F600 emoji", "\U000E0001 tag",
		"invalid \xff utf-8",
	} {
		t.Run(s, func(t *testing.T) {
			want := bytes.TrimSpace(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
			if got := Quote(s); !bytes.Equal(got, want) {
				t.Errorf("Quote(%q) = %s, hclwrite gives %s", s, got, want)
			}
		})
	}
}
