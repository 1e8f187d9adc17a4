package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hostileSpecs are specs written to crash or exhaust kpf, generated here
// rather than committed; each must fail with the diagnostic named, at the
// place given as "line:col" ("" = any place in kpf.hcl). FuzzLoad gets
// them as seeds.
func hostileSpecs() []struct {
	name, src, summary, at string
} {
	rep := strings.Repeat
	const fwdTail = "\nforward \"f\" {\n  target      = \"svc/a\"\n  remote_port = local.v\n}\n"
	doubling := func(n int, step string) string {
		var b strings.Builder
		b.WriteString("locals {\n  l0 = \"xxxxxxxxxxxxxxxx\"\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "  l%d = %s\n", i, strings.ReplaceAll(step, "P", fmt.Sprintf("local.l%d", i-1)))
		}
		fmt.Fprintf(&b, "  v = length(local.l%d)\n}\n", n)
		return b.String() + fwdTail
	}
	return []struct{ name, src, summary, at string }{
		// 240 KB of nested parentheses: a stack overflow in hclsyntax.
		{"parens", "a = " + rep("(", 240<<10) + "1" + rep(")", 240<<10) + "\n", "Nesting too deep", "1:105"},
		{"brackets in a forward", "forward \"f\" {\n  remote_port = " + rep("[", 200) + "\n}\n", "Nesting too deep", "2:116"},
		{"braces", rep("x {\n", 150), "Nesting too deep", "101:3"},
		{"templates", "a = " + rep(`"${`, 100000) + "\n", "Nesting too deep", "1:105"},
		{"heredocs", "a = " + rep("<<EOT\n${", 1000) + "\n", "Nesting too deep", "35:1"},
		{"directives", "a = \"" + rep("%{if true}", 1000) + "\"\n", "Nesting too deep", "1:976"},
		{"unary", "a = " + rep("!", 300000) + "true\n", "Nesting too deep", "1:105"},
		{"negation", "a = " + rep("- ", 300000) + "1\n", "Nesting too deep", "1:205"},
		{"conditionals", "a = " + rep("true ? 1 : ", 50000) + "1\n", "Nesting too deep", "1:1110"},
		{"too large", "# " + rep("x", MaxFileSize) + "\n", "Spec file too large", "1:1"},
		// ~40 doubling locals: 16 bytes × 2^40.
		{"doubling strings", doubling(40, `"${P}${P}"`), "Value too large", "16:9"},
		{"doubling lists", doubling(40, "concat(P == null ? [] : [P], [P])"), "Value too large", ""},
		{"doubling tuples", doubling(40, "[P, P]"), "Value too large", "16:9"},
		// Three nested for over range(1024): 2^30 elements.
		{"nested for", "locals {\n  v = length([for a in range(1024) : [for b in range(1024) : [for c in range(1024) : 1]]])\n}\n" + fwdTail,
			"Evaluation too large", ""},
		{"for over a literal in a default", "variable \"v\" {\n  default = [for a in " + "[" + rep("1,", 1000) + "] : [for b in [" + rep("1,", 1000) + "] : [for c in [" + rep("1,", 1000) + "] : 1]]]\n}\n",
			"Evaluation too large", ""},
		{"big range", "locals {\n  v = length(range(1e12))\n}\n" + fwdTail, "Value too large", "2:14"},
		{"wide format", "locals {\n  v = format(\"%999999999d\", 1)\n}\n" + fwdTail, "Value too large", "2:7"},
		{"indent", "locals {\n  s = join(\"\\n\", range(1000))\n  v = indent(1000000, local.s)\n}\n" + fwdTail, "Value too large", "3:7"},
		{"replace", "locals {\n  s = join(\"\", [for i in range(1000) : \"aaaa\"])\n  v = replace(local.s, \"a\", local.s)\n}\n" + fwdTail, "Value too large", "3:7"},
		{"join", "locals {\n  s = join(\"\", [for i in range(1000) : \"aaaa\"])\n  v = join(local.s, range(1000))\n}\n" + fwdTail, "Value too large", "3:7"},
		{"jsonencode chain", "locals {\n  s = join(\"\", [for i in range(1000) : \"\\\"\\\"\"])\n  v = length(" + rep("jsonencode(", 40) + "local.s" + rep(")", 40) + ")\n}\n" + fwdTail, "Value too large", ""},
		{"for doubling", "locals {\n  v = length(" + rep("[for x in [", 30) + "[1]" + rep("] : [x, x]]", 30) + ")\n}\n" + fwdTail, "", ""},
	}
}

func TestHostileSpecs(t *testing.T) {
	for _, tt := range hostileSpecs() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"kpf.hcl": tt.src})
			ws, diags := Load(LoadOptions{Dir: dir})
			if ws != nil || !diags.HasErrors() {
				t.Fatalf("loaded a hostile spec: %s", FormatDiagnosticsPlain(diags))
			}
			var hit *hcl.Diagnostic
			for _, d := range diags {
				if tt.summary == "" && (d.Summary == "Value too large" || d.Summary == "Evaluation too large") || d.Summary == tt.summary && tt.summary != "" {
					hit = d
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %q diagnostic in:\n%.2000s", tt.summary, FormatDiagnosticsPlain(diags))
			}
			if hit.Subject == nil || hit.Subject.Filename != "kpf.hcl" {
				t.Fatalf("diagnostic does not point into kpf.hcl: %s", FormatDiagnosticsPlain(hcl.Diagnostics{hit}))
			}
			if got := fmt.Sprintf("%d:%d", hit.Subject.Start.Line, hit.Subject.Start.Column); tt.at != "" && got != tt.at {
				t.Errorf("diagnostic at %s, want %s: %s", got, tt.at, FormatDiagnosticsPlain(hcl.Diagnostics{hit}))
			}
			if len(diags) > 10 {
				t.Errorf("%d diagnostics, want a few:\n%.2000s", len(diags), FormatDiagnosticsPlain(diags))
			}
		})
	}
}

// TestHostileVarFileAndFlags: the same caps hold for values from outside
// the spec files.
func TestHostileVarFileAndFlags(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": "variable \"v\" {\n  type = list(number)\n  default = []\n}\n" + fmt.Sprintf(fwd, "f", "f")})
	vf := filepath.Join(t.TempDir(), "vars.hcl")
	if err := os.WriteFile(vf, []byte("v = "+strings.Repeat("[", 5000)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags := Load(LoadOptions{Dir: dir, VarFiles: []string{vf}})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, vf+":1:105: error: Nesting too deep") {
		t.Errorf("var file: %s", got)
	}
	_, diags = Load(LoadOptions{Dir: dir, Vars: []string{"v=" + strings.Repeat("(", 300000)}})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, "<flag --var v>:1:1: error: Invalid value for variable: The value of variable \"v\" is not a valid list of number: nesting too deep (the value is not shown).") {
		t.Errorf("--var: %s", got)
	}
	_, diags = Load(LoadOptions{Dir: dir, Vars: []string{"v=[for a in range(2000) : [for b in range(2000) : 1]]"}})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, "error: ") {
		t.Errorf("--var with for: %s", got)
	}
}

// TestNestingLimitIsNotHit: real specs, and nesting just under the cap, load.
func TestNestingLimitIsNotHit(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		generatedSpec(100),
		"a = " + strings.Repeat("(", MaxNestingDepth) + "1" + strings.Repeat(")", MaxNestingDepth) + "\n",
		"a = \"${\"${\"${1}\"}\"}\"\nb = <<EOT\n  ${a} %{if true}x%{endif}\nEOT\n",
		"# ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\n" +
			"a = \"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\"\n" +
			"/* [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ */\n" +
			"b = <<-EOT\n  {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n  EOT\n" +
			"c = a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z\n" +
			strings.Repeat("d = x ? 1 : 2\n", 200),
	} {
		if off, d := nestingExceeds([]byte(src), MaxNestingDepth); off >= 0 {
			p := offsetPos([]byte(src), off)
			t.Errorf("depth %d at %d:%d in %.80q", d, p.Line, p.Column, src)
		}
	}
}

// tokenDepth is the nesting depth of src on hclsyntax's token stream:
// brackets, braces, quotes, heredocs and template sequences. nestingExceeds
// must never see less.
func tokenDepth(src []byte) int {
	tokens, _ := hclsyntax.LexConfig(src, "x", hcl.InitialPos)
	var stack []hclsyntax.TokenType
	deepest := 0
	popTo := func(match func(hclsyntax.TokenType) bool) {
		for i := len(stack) - 1; i >= 0; i-- {
			if match(stack[i]) {
				stack = stack[:i]
				return
			}
		}
	}
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOParen, hclsyntax.TokenOBrack, hclsyntax.TokenOBrace, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			stack = append(stack, t.Type)
			deepest = max(deepest, len(stack))
		case hclsyntax.TokenCParen:
			if n := len(stack); n > 0 && stack[n-1] == hclsyntax.TokenOParen {
				stack = stack[:n-1]
			}
		case hclsyntax.TokenCBrack:
			if n := len(stack); n > 0 && stack[n-1] == hclsyntax.TokenOBrack {
				stack = stack[:n-1]
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenTemplateSeqEnd:
			popTo(func(t hclsyntax.TokenType) bool {
				return t == hclsyntax.TokenOBrace || t == hclsyntax.TokenTemplateInterp || t == hclsyntax.TokenTemplateControl
			})
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			popTo(func(t hclsyntax.TokenType) bool { return t == hclsyntax.TokenOQuote || t == hclsyntax.TokenOHeredoc })
		}
	}
	return deepest
}

// scanDepth is the deepest nesting nestingExceeds sees in src.
func scanDepth(src []byte) int {
	lo, hi := 0, len(src)+2
	for lo < hi { // smallest max that is never exceeded
		mid := (lo + hi) / 2
		if off, _ := nestingExceeds(src, mid); off < 0 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func TestScanDepthCoversTokenDepth(t *testing.T) {
	t.Parallel()
	cases := []string{
		`a = "${"${"${"x"}"}"}"`,
		"a = <<EOT\n${<<-EOF\n  ${[[[1]]]}\n  EOF\n}\nEOT\n",
		`a = "$${ ( ( ( " b = ((((1))))`,
		`a = "\" ((((" b = [[[[1]]]]`,
		"# \" ((((\nb = [[[[1]]]]",
		"/* \" */ b = [[[[1]]]]",
		"/* unterminated \" b = [[[[1]]]]",
		`a = "${ { { } }"`,
		`a = "%{ if x }${ (((1))) }%{ endif }"`,
		"a = \"x\ny(((\"",
		"a = <<EOT\nEOTX\n((((\n EOT \n(((",
		`a = "${ ( }" ((((`,
		`a = "${ ~} ((((("`,
		"a = <<EÖT\n((((\nEÖT\n",
		"a = \"\\\n(((\"",
		"}}}}{{{{(((",
	}
	for _, c := range cases {
		if s, tk := scanDepth([]byte(c)), tokenDepth([]byte(c)); s < tk {
			t.Errorf("scanner depth %d < token depth %d for %q", s, tk, c)
		}
	}
}

// FuzzNesting checks the byte scanner against hclsyntax's lexer: it must
// never see less nesting than the token stream has, or a crafted file
// could slip past MaxNestingDepth into the recursive parser.
func FuzzNesting(f *testing.F) {
	for _, h := range hostileSpecs() {
		if len(h.src) < 4096 {
			f.Add([]byte(h.src))
		}
	}
	for _, s := range []string{generatedSpec(3), `a = "${"${x}"}"`, "a = <<EOT\n${b}\nEOT\n", "/* x */ # y\n// z\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if s, tk := scanDepth(src), tokenDepth(src); s < tk {
			t.Fatalf("scanner depth %d < token depth %d", s, tk)
		}
	})
}

// TestFormatDirHostile: kpf fmt refuses what Load refuses, without
// crashing and without touching the file.
func TestFormatDirHostile(t *testing.T) {
	t.Parallel()
	deep := "a = " + strings.Repeat("(", 240<<10) + "\n"
	dir := writeFiles(t, map[string]string{"kpf.hcl": deep})
	_, err := FormatDir(dir, false, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "kpf.hcl:1:105: error: Nesting too deep") {
		t.Errorf("err = %.300v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kpf.hcl")); string(b) != deep {
		t.Error("the file changed")
	}
	outside := filepath.Join(t.TempDir(), "x.hcl")
	if err := os.WriteFile(outside, []byte("a=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir = writeFiles(t, nil)
	if err := os.Symlink(outside, filepath.Join(dir, "kpf.hcl")); err != nil {
		t.Fatal(err)
	}
	if _, err := FormatDir(dir, false, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "Spec file outside the workspace") {
		t.Errorf("err = %v", err)
	}
}

// TestPlainContentMatchesContent: the shortcut for clean bodies returns
// what hcl's Body.Content returns, and declines bodies Content would
// complain about.
func TestPlainContentMatchesContent(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile("testdata/valid/full/kpf.hcl")
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*hcl.BodySchema{
		"kpf": kpfSchema, "defaults": defaultsSchema, "variable": variableSchema,
		"forward": forwardSchema, "health": healthSchema,
	}
	var check func(name string, body hcl.Body, schema *hcl.BodySchema)
	check = func(name string, body hcl.Body, schema *hcl.BodySchema) {
		got, ok := plainContent(body.(*hclsyntax.Body), schema)
		want, diags := body.Content(schema)
		if ok == diags.HasErrors() {
			t.Fatalf("%s: shortcut taken %v, Content errors %v", name, ok, diags.HasErrors())
		}
		if !ok {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: content differs:\n%#v\n%#v", name, got, want)
		}
		for _, b := range got.Blocks {
			if s := schemas[b.Type]; s != nil {
				check(name+"/"+b.Type, b.Body, s)
			}
		}
	}
	for name, src := range map[string]string{
		"generated": generatedSpec(10),
		"full":      string(full),
		"unknown":   "forward \"a\" {\n  port = 1\n}\n",
		"labels":    "forward {\n}\n",
		"block":     "kpf {\n  health {}\n}\n",
	} {
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		check(name, f.Body, fileSchema)
	}
}
