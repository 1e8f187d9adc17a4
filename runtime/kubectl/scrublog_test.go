package kubectl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScrubLog(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "kubectl's lines", in: `["127.83.41.67","zq7x"]` + "\nForwarding from 127.83.41.67:8080 -> 8080\nerror: services \"web-zq7x\" not found\n",
			want: "Forwarding from (sensitive value):8080 -> 8080\nerror: services \"web-(sensitive value)\" not found\n"},
		{name: "a last line without newline", in: `["zq7x"]` + "\npartial zq7x", want: "partial (sensitive value)"},
		{name: "no values", in: "[]\nplain\n", want: "plain\n"},
		{name: "no values line", in: "Forwarding from 127.0.0.1", wantErr: true},
		{name: "values not JSON", in: "zq7x\nForwarding\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "logs", "web.log")
			err := ScrubLog(path, strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatal("ScrubLog = nil, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("log:\n got %q\nwant %q", b, tt.want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}
