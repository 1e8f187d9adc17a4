package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestIsPluginName(t *testing.T) {
	tests := []struct {
		argv0 string
		want  bool
	}{
		{"kpf", false},
		{"/usr/bin/kpf", false},
		{"kubectl-kpf", true},
		{"/home/u/.krew/bin/kubectl-kpf", true},
		{"kubectl-kpf.exe", true},
		{"kubectl-kpf.EXE", true},
		{"kubectl-kpfx", false},
		{"kubectl", false},
		{"kpf.exe", false},
	}
	for _, tt := range tests {
		if got := isPluginName(tt.argv0); got != tt.want {
			t.Errorf("isPluginName(%q) = %v, want %v", tt.argv0, got, tt.want)
		}
	}
}

// TestPluginHelp: run as kubectl-kpf, usage lines, examples and the
// flag-error hint say `kubectl kpf`; run as kpf, they say `kpf`.
func TestPluginHelp(t *testing.T) {
	tests := []struct {
		argv0   string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		{"kubectl-kpf", []string{"--help"}, exitOK,
			[]string{"Usage:\n  kubectl kpf [command]", "\n  kubectl kpf apply --watch", "Use \"kubectl kpf [command] --help\""},
			[]string{"\n  kpf ", "kubectl-kpf"}},
		{"/opt/krew/bin/kubectl-kpf", []string{"plan", "--help"}, exitOK,
			[]string{"  kubectl kpf plan [flags]", "  kubectl kpf plan --json"}, []string{"\n  kpf "}},
		{"kubectl-kpf", []string{"plan", "--bogus"}, exitError,
			[]string{"Run 'kubectl kpf plan --help' for usage"}, nil},
		{"/usr/bin/kpf", []string{"--help"}, exitOK,
			[]string{"Usage:\n  kpf [command]", "\n  kpf apply --watch"}, []string{"kubectl kpf"}},
	}
	for _, tt := range tests {
		t.Run(tt.argv0+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runAs(context.Background(), tt.argv0, tt.args, streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
			all := out.String() + errb.String()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("output has %q:\n%s", w, all)
				}
			}
		})
	}
}
