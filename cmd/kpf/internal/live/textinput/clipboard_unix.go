// The clipboard read of github.com/atotto/clipboard v0.1.4
// (clipboard_unix.go; BSD-3-Clause, LICENSE.clipboard), with its choice of
// program made on the first paste instead of in a package init: that init
// searched PATH for up to five programs at every kpf start, whatever the
// command (issue 20, point 11).

//go:build freebsd || linux || netbsd || openbsd || solaris || dragonfly

package textinput

import (
	"errors"
	"os"
	"os/exec"
	"sync"
)

var errNoClipboard = errors.New("no clipboard program: install xsel, xclip, wl-clipboard or the Termux:API add-on")

// pasteCommand is the program that prints the clipboard, looked for on the
// first paste.
var pasteCommand = sync.OnceValues(findPasteCommand)

// findPasteCommand finds the program that prints the clipboard as
// atotto/clipboard's init does; nil when there is none.
func findPasteCommand() (args []string, trimDos bool) {
	if os.Getenv("WAYLAND_DISPLAY") != "" {
		if _, err := exec.LookPath("wl-copy"); err == nil {
			if _, err := exec.LookPath("wl-paste"); err == nil {
				return []string{"wl-paste", "--no-newline"}, false
			}
		}
	}
	if _, err := exec.LookPath("xclip"); err == nil {
		return []string{"xclip", "-out", "-selection", "clipboard"}, false
	}
	if _, err := exec.LookPath("xsel"); err == nil {
		return []string{"xsel", "--output", "--clipboard"}, false
	}
	if _, err := exec.LookPath("termux-clipboard-set"); err == nil {
		if _, err := exec.LookPath("termux-clipboard-get"); err == nil {
			return []string{"termux-clipboard-get"}, false
		}
	}
	if _, err := exec.LookPath("clip.exe"); err == nil { // WSL
		if _, err := exec.LookPath("powershell.exe"); err == nil {
			return []string{"powershell.exe", "Get-Clipboard"}, true
		}
	}
	return nil, false
}

// readClipboard returns the clipboard's text, as clipboard.ReadAll.
func readClipboard() (string, error) {
	args, trimDos := pasteCommand()
	return paste(args, trimDos)
}

func paste(args []string, trimDos bool) (string, error) {
	if args == nil {
		return "", errNoClipboard
	}
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		return "", err
	}
	result := string(out)
	if trimDos && len(result) > 1 {
		result = result[:len(result)-2] // the CRLF powershell ends with
	}
	return result, nil
}
