//go:build freebsd || linux || netbsd || openbsd || solaris || dragonfly

package textinput

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPasteFindsTheProgramOnFirstUse: the program is chosen as
// atotto/clipboard chose it, from PATH at the paste, and its output is
// the pasted text (real processes: shell scripts standing in for xclip,
// xsel, wl-paste).
func TestPasteFindsTheProgramOnFirstUse(t *testing.T) {
	tests := []struct {
		name     string
		programs []string // put on PATH; each prints its own name
		wayland  bool
		want     string // what the paste returns; "" for no clipboard program
	}{
		{"none", nil, false, ""},
		{"xsel", []string{"xsel"}, false, "xsel"},
		{"xclip before xsel", []string{"xsel", "xclip"}, false, "xclip"},
		{"wayland: wl-paste", []string{"xclip", "wl-copy", "wl-paste"}, true, "wl-paste"},
		{"wayland without wl-copy: xclip", []string{"xclip", "wl-paste"}, true, "xclip"},
		{"not wayland: wl-paste unused", []string{"xsel", "wl-copy", "wl-paste"}, false, "xsel"},
		{"termux needs both", []string{"termux-clipboard-get"}, false, ""},
		{"termux", []string{"termux-clipboard-get", "termux-clipboard-set"}, false, "termux-clipboard-get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range tt.programs {
				script := "#!/bin/sh\nprintf %s " + p + "\n"
				if err := os.WriteFile(filepath.Join(dir, p), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir)
			t.Setenv("WAYLAND_DISPLAY", map[bool]string{true: "wayland-0"}[tt.wayland])
			args, trimDos := findPasteCommand()
			got, err := paste(args, trimDos)
			if tt.want == "" {
				if !errors.Is(err, errNoClipboard) {
					t.Errorf("paste with %v on PATH: %q, %v; want the no-clipboard error", tt.programs, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("paste with %v on PATH (args %v): %q, %v; want %q", tt.programs, args, got, err, tt.want)
			}
			if !slices.Contains(tt.programs, args[0]) {
				t.Errorf("ran %q, not one of %v", args[0], tt.programs)
			}
		})
	}
}
