package spec

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Format returns src in canonical HCL layout: the layout of
// hclwrite.Format (and terraform fmt), which changes only the blanks
// between tokens (layout.go).
func Format(src []byte) []byte {
	return layout(src)
}

// FormatDir formats the spec files of dir (the files Load reads). With
// check it only lists the files that are not formatted; otherwise it
// rewrites them in place, keeping their mode. Either way the names of those
// files (relative to dir) are written to w, one a line, and returned. A file
// that does not parse is an error and is left alone.
func FormatDir(dir string, check bool, w io.Writer) (changed []string, err error) {
	primary, override, err := workspaceFiles(dir)
	if err != nil {
		return nil, err
	}
	names := append(primary, override...)
	if len(names) == 0 {
		return nil, fmt.Errorf("no kpf.hcl or *.kpf.hcl in %s", dir)
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		// Read as Load reads: not through a link out of the workspace,
		// not past MaxFileSize, not nested past MaxNestingDepth (the
		// parser would overflow its stack).
		src, diags := readSpecFile(dir, name)
		if !diags.HasErrors() {
			diags = checkNesting(src, name)
		}
		if diags.HasErrors() {
			return changed, fmt.Errorf("not formatting %s: %s", name, firstError(diags))
		}
		if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
			return changed, fmt.Errorf("not formatting %s: %s", name, firstError(diags))
		}
		out := Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		if !check {
			if err := replaceFile(path, out); err != nil {
				return changed, err
			}
		}
		changed = append(changed, name)
		if _, err := fmt.Fprintln(w, name); err != nil {
			return changed, fmt.Errorf("listing %s: %w", name, err)
		}
	}
	return changed, nil
}

func firstError(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			return strings.TrimSuffix(FormatDiagnosticsPlain(hcl.Diagnostics{d}), "\n")
		}
	}
	return ""
}

// replaceFile atomically replaces path with data, keeping its mode.
func replaceFile(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kpf-fmt-*")
	if err != nil {
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("formatting %s: %w", path, err)
	}
	return nil
}
