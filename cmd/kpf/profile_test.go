package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfiles: --cpuprofile and --memprofile write pprof files, and
// --pprof serves on the address given.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	code, _, errOut := newCLI(t).run("--cpuprofile", cpu, "--memprofile", mem, "--pprof", "127.0.0.1:0", "version")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof files are gzipped protobuf
			t.Errorf("%s: not a pprof file (%d bytes, %v)", p, len(b), err)
		}
	}
	code, _, errOut = newCLI(t).run("--pprof", "256.0.0.1:1", "version")
	if code != exitError || !strings.Contains(errOut, "--pprof") {
		t.Errorf("a bad --pprof address: exit %d, %q", code, errOut)
	}
}
