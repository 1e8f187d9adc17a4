package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestValues(t *testing.T) {
	f := Fields{
		Target: "service/db-x", Selector: map[string]string{"app": "pg-x"}, Context: "ctx-x",
		Namespace: "ns-x", Address: "127.9.9.9", RemotePort: "pgport", Open: "/open-x", HealthPath: "/hz-x",
	}
	tests := []struct {
		name      string
		sensitive []string
		want      []string
	}{
		{"none", nil, nil},
		{"target and its name", []string{FieldTarget}, []string{"service/db-x", "db-x"}},
		{"selector keys and values", []string{FieldSelector}, []string{"app", "pg-x"}},
		{"every field", []string{FieldContext, FieldNamespace, FieldAddress, FieldRemotePort, FieldOpen, FieldHealth},
			[]string{"ctx-x", "ns-x", "127.9.9.9", "pgport", "/open-x", "/hz-x"}},
		{"unknown and local port fields", []string{"LocalPort", "Enabled"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f
			f.Sensitive = tt.sensitive
			got := Values(f)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Values = %q, want %q", got, want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"nothing held", nil, "service/db", "service/db"},
		{"empty value ignored", []string{""}, "abc", "abc"},
		{"longest first", []string{"db", "service/db"}, `services "db" not found; service/db`,
			`services "(sensitive value)" not found; (sensitive value)`},
		{"every occurrence", []string{"s3cr"}, "s3cr and s3cr again", "(sensitive value) and (sensitive value) again"},
		{"quoted form", []string{`a"b`}, `name="a\"b"`, `name="(sensitive value)"`},
		{"JSON form", []string{"<x>"}, `{"v":"\u003cx\u003e"}`, `{"v":"(sensitive value)"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.values...).Scrub(tt.in); got != tt.want {
				t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var nilScrubber *Scrubber
	if got := nilScrubber.Scrub("x"); got != "x" {
		t.Errorf("nil Scrubber: %q", got)
	}
}

func TestScrubAddLater(t *testing.T) {
	s := New("one")
	s.Add("two", "one")
	if got := s.Scrub("one two three"); got != "(sensitive value) (sensitive value) three" {
		t.Errorf("got %q", got)
	}
}

// TestWriterSplitValue writes a value split across writes (as io.Copy in
// chunks does): it must still be scrubbed.
func TestWriterSplitValue(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole lines", []string{"a secret\n", "b\n"}, "a (sensitive value)\nb\n"},
		{"split value", []string{"a sec", "ret b\n"}, "a (sensitive value) b\n"},
		{"partial last line kept until Flush", []string{"x\nsec", "ret"}, "x\n(sensitive value)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := New("secret").Writer(&buf)
			for _, s := range tt.writes {
				if n, err := io.WriteString(w, s); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("wrote %q, want %q", buf.String(), tt.want)
			}
		})
	}
}

func TestWriterLongLine(t *testing.T) {
	var buf bytes.Buffer
	w := New("secret").Writer(&buf)
	long := strings.Repeat("x", maxPending) + "secret"
	if _, err := io.WriteString(w, long); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Fatal("a line past maxPending was kept whole")
	}
	if strings.Contains(buf.String(), "secret") {
		t.Error("leaked")
	}
}

func TestScrubError(t *testing.T) {
	sentinel := errors.New("sentinel")
	s := New("secret")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"nothing to scrub", fmt.Errorf("plain: %w", sentinel), "plain: sentinel"},
		{"scrubbed, sentinel kept", fmt.Errorf("secret not found: %w", sentinel), "(sensitive value) not found: sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Error(tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("Error(nil) = %v", got)
				}
				return
			}
			if got.Error() != tt.want || !errors.Is(got, sentinel) {
				t.Errorf("Error = %q (Is sentinel: %v), want %q", got, errors.Is(got, sentinel), tt.want)
			}
		})
	}
}
