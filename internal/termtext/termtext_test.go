package termtext

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantText string
	}{
		{"api", "api", "api"},
		{"kind-dev ünïcode 名前", "kind-dev ünïcode 名前", "kind-dev ünïcode 名前"},
		{"a\x1b]0;pwned\x07b", `a\x1b]0;pwned\ab`, `a\x1b]0;pwned\ab`},
		{"red\x1b[31m", `red\x1b[31m`, `red\x1b[31m`},
		{"line\nnext\tcol", `line\nnext\tcol`, "line\nnext\tcol"},
		{"cr\rover", `cr\rover`, `cr\rover`},
		{"c1\u009bq", `c1\u009bq`, `c1\u009bq`},
		{"del\x7f", `del\x7f`, `del\x7f`},
		{"bidi\u202eevil\u2066x\u200f", `bidi\u202eevil\u2066x\u200f`, `bidi\u202eevil\u2066x\u200f`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`, `bad\xffutf8\xc3`},
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := EscapeText(tc.in); got != tc.wantText {
			t.Errorf("EscapeText(%q) = %q, want %q", tc.in, got, tc.wantText)
		}
		if strings.ContainsAny(Escape(tc.in), "\x1b\x07\n\r\u009b\u202e") {
			t.Errorf("Escape(%q) lets a control through", tc.in)
		}
	}
}

func TestEscapeSafeDoesNotAllocate(t *testing.T) {
	s := "forward.api: started on 127.0.0.1:8080 (1 attempt)"
	if n := testing.AllocsPerRun(100, func() { _ = Escape(s) }); n != 0 {
		t.Errorf("Escape of safe text allocates %v times", n)
	}
}

// TestWriter: a C1 control or a multi-byte character split across writes
// is escaped (or kept) as a whole.
func TestWriter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	w := NewWriter(&b)
	for _, p := range []string{"ok \xc2", "\x9b2J é\xc3", "\xa9 \x1b[1m\n", "\xe5"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `ok \u009b2J éé \x1b[1m`+"\n"+`\xe5`; got != want {
		t.Fatalf("Writer wrote %q, want %q", got, want)
	}
}
