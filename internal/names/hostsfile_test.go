package names

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

const ws = "/home/u/shop"

var apiEntries = []Entry{{Address: "127.77.1.2", Names: []string{"api", "api.shop"}}}

func block(key, eol string, lines ...string) string {
	s := beginPrefix + key + eol + beginNote + eol
	for _, l := range lines {
		s += l + eol
	}
	return s + endPrefix + key + eol
}

func TestEdit(t *testing.T) {
	apiBlock := block(ws, "\n", "127.77.1.2\tapi api.shop")
	other := block("/home/u/other", "\n", "127.77.9.9\tdb")
	big := strings.Repeat("10.0.0.1\tsome-host.example.com # a comment\n", 1<<20/40)
	tests := []struct {
		name    string
		in      string
		entries []Entry
		want    string
	}{
		{"empty file", "", apiEntries, apiBlock},
		{"empty file, nothing to write", "", nil, ""},
		{"foreign lines kept", "127.0.0.1\tlocalhost\n", apiEntries, "127.0.0.1\tlocalhost\n" + apiBlock},
		{"no trailing newline", "127.0.0.1\tlocalhost", apiEntries, "127.0.0.1\tlocalhost\n" + apiBlock},
		{"no trailing newline, removing nothing", "127.0.0.1\tlocalhost", nil, "127.0.0.1\tlocalhost"},
		{"CRLF kept", "127.0.0.1\tlocalhost\r\n", apiEntries, "127.0.0.1\tlocalhost\r\n" + block(ws, "\r\n", "127.77.1.2\tapi api.shop")},
		{"CRLF block replaced", "a\r\n" + block(ws, "\r\n", "old") + "b\r\n", apiEntries, "a\r\n" + block(ws, "\r\n", "127.77.1.2\tapi api.shop") + "b\r\n"},
		{"replaced in place, foreign lines around", "a\n" + block(ws, "\n", "127.77.0.1\told") + "b\n", apiEntries, "a\n" + apiBlock + "b\n"},
		{"removed, foreign lines around", "a\n" + apiBlock + "b\n", nil, "a\nb\n"},
		{"other workspaces' blocks and lines between kept", other + "x\n" + apiBlock + "y\n" + other, nil, other + "x\n" + "y\n" + other},
		{"duplicate blocks collapse into the first", "a\n" + apiBlock + "b\n" + apiBlock + "c\n", []Entry{{Address: "127.77.3.3", Names: []string{"api"}}}, "a\n" + block(ws, "\n", "127.77.3.3\tapi") + "b\nc\n"},
		{"duplicate BEGIN markers: the unmatched one dropped alone", beginPrefix + ws + "\nkeep me\n" + apiBlock, nil, "keep me\n"},
		{"BEGIN without END: foreign lines after it kept", "a\n" + beginPrefix + ws + "\nkeep me\n", apiEntries, "a\nkeep me\n" + apiBlock},
		{"a key that is a prefix of another is not it", block(ws+"2", "\n", "x"), nil, block(ws+"2", "\n", "x")},
		{"1 MB file", big, apiEntries, big + apiBlock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Edit([]byte(tc.in), ws, tc.entries))
			if got != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", trunc(got), trunc(tc.want))
			}
			// Idempotent: editing the result again changes nothing.
			if again := string(Edit([]byte(got), ws, tc.entries)); again != got {
				t.Errorf("second edit changed the file:\n%q", trunc(again))
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 400 {
		return s[:200] + "…" + s[len(s)-200:]
	}
	return s
}

func TestKeys(t *testing.T) {
	text := block("/a", "\n", "x") + "foo\n" + block("/b b", "\r\n", "y") + block("/a", "\n") + beginPrefix + "/c\n"
	got := Keys([]byte(text))
	if want := []string{"/a", "/b b"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	if !bytes.Equal(Edit([]byte(text), "/z", nil), []byte(text)) {
		t.Error("removing an absent key changed the text")
	}
}
