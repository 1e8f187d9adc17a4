//go:build unix

package spec

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSpecFileNotRegular: a FIFO named like a spec file is refused, not
// read (reading it would block forever).
func TestSpecFileNotRegular(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"kpf.hcl": ""})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.kpf.hcl"), 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	_, diags := Load(LoadOptions{Dir: dir})
	if got := FormatDiagnosticsPlain(diags); !strings.Contains(got, "pipe.kpf.hcl:1:1: error: Cannot read spec file: Reading pipe.kpf.hcl: not a regular file.") {
		t.Error(got)
	}
}
