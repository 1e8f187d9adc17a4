package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Root returns the directory holding every workspace's state:
// $KPF_STATE_DIR, else $XDG_STATE_HOME/kpf, else $HOME/.local/state/kpf.
// getenv is os.Getenv outside tests.
func Root(getenv func(string) string) (string, error) {
	if d := getenv("KPF_STATE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	// The XDG spec says relative paths are invalid and must be ignored.
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kpf"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "kpf"), nil
	}
	return "", errors.New("no state directory: set KPF_STATE_DIR, XDG_STATE_HOME or HOME")
}

// Dir returns the state directory of the workspace at path workspace: one
// folder under Root per workspace, named readably with a short hash of its
// absolute path with symbolic links resolved ("shop-3f2a9c1b"), so that a
// workspace reached through a link has one state directory.
func Dir(getenv func(string) string, workspace string) (string, error) {
	root, err := Root(getenv)
	if err != nil {
		return "", err
	}
	abs, err := CanonicalPath(workspace)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, folderName(abs)), nil
}

// CanonicalPath is the absolute path of a workspace with symbolic links
// resolved (as far as it exists: a missing workspace keeps its absolute
// path).
func CanonicalPath(workspace string) (string, error) {
	abs, err := filepath.Abs(workspace)
	if err != nil {
		return "", fmt.Errorf("resolving workspace path: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

func folderName(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	base := safeName(filepath.Base(abs))
	if base == "" || base == "." || base == ".." {
		base = "workspace"
	}
	return base + "-" + hex.EncodeToString(sum[:4])
}

// safeName keeps letters, digits, '.', '_' and '-' (others become '-') and
// at most 40 bytes, so a name is one harmless path element.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
