//go:build !(freebsd || linux || netbsd || openbsd || solaris || dragonfly)

package textinput

import "github.com/atotto/clipboard"

// readClipboard returns the clipboard's text through atotto/clipboard, as
// bubbles' textinput does. On macOS and Plan 9 that package does no work at
// init; on Windows it loads user32.dll at init (not measured: kpf's figures
// are taken on Linux), left as it was. clipboard_unix.go has the lazy read.
func readClipboard() (string, error) { return clipboard.ReadAll() }
