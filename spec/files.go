package spec

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// File name patterns of a workspace.
const (
	mainFile       = "kpf.hcl"
	fileSuffix     = ".kpf.hcl"
	overrideSuffix = ".override.kpf.hcl"
)

// workspaceFiles lists the spec files of dir: kpf.hcl and *.kpf.hcl sorted
// by name, and *.override.kpf.hcl sorted by name. Dotfiles and editor
// backups are skipped.
func workspaceFiles(dir string) (primary, override []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading workspace directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || skipFile(name) {
			continue
		}
		switch {
		case strings.HasSuffix(name, overrideSuffix):
			override = append(override, name)
		case name == mainFile || strings.HasSuffix(name, fileSuffix):
			primary = append(primary, name)
		}
	}
	sort.Strings(primary)
	sort.Strings(override)
	return primary, override, nil
}

// skipFile reports whether name is a dotfile or an editor backup.
func skipFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	if strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#") {
		return true
	}
	for _, suf := range []string{".swp", ".bak", ".orig"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}
