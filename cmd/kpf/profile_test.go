package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
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

// TestPprofAddr: a missing host is loopback, never every interface; a
// non-loopback host needs --pprof-any-address.
func TestPprofAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		anyAddr bool
		want    string // "" = refused
	}{
		{":16060", false, "127.0.0.1:16060"},
		{"127.0.0.1:0", false, "127.0.0.1:0"},
		{"[::1]:6060", false, "[::1]:6060"},
		{"localhost:6060", false, "localhost:6060"},
		{"0.0.0.0:6060", false, ""},
		{"[::]:6060", false, ""},
		{"10.1.2.3:6060", false, ""},
		{"example.com:6060", false, ""},
		{"0.0.0.0:6060", true, "0.0.0.0:6060"},
		{"6060", false, ""},
	}
	for _, tc := range tests {
		got, err := pprofAddr(tc.in, tc.anyAddr)
		if tc.want == "" {
			if err == nil {
				t.Errorf("pprofAddr(%q, %v) = %q, want refused", tc.in, tc.anyAddr, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("pprofAddr(%q, %v) = %q, %v; want %q", tc.in, tc.anyAddr, got, err, tc.want)
		}
	}
}

// TestPprofServer: --pprof :0 listens on 127.0.0.1 only, warns on stderr
// even at --log-level error, serves profiles but not the command line
// (which holds --var values); a non-loopback address is refused.
func TestPprofServer(t *testing.T) {
	var errb bytes.Buffer
	a := &app{io: streams{Err: &errb}, log: hclog.NewNullLogger(), opts: globalOptions{PprofAddr: ":0"}}
	if err := a.servePprof(a.opts.PprofAddr); err != nil {
		t.Fatal(err)
	}
	defer a.pprofSrv.Close()
	m := regexp.MustCompile(`serving pprof on (\S+) `).FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("no warning on stderr: %q", errb.String())
	}
	host, port, _ := net.SplitHostPort(m[1])
	if host != "127.0.0.1" {
		t.Fatalf("--pprof :0 bound %s, want 127.0.0.1", m[1])
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://127.0.0.1:" + port + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
		t.Errorf("goroutine profile: status %d", code)
	}
	if code, body := get("/debug/pprof/cmdline"); code == http.StatusOK || strings.Contains(body, os.Args[0]) {
		t.Errorf("cmdline is served: status %d, %q", code, body)
	}

	code, _, errOut := newCLI(t).run("--log-level", "error", "--pprof", ":0", "version")
	if code != exitOK || !strings.Contains(errOut, "Warning: serving pprof on 127.0.0.1:") {
		t.Errorf("--log-level error hid the warning: exit %d, %q", code, errOut)
	}
	code, _, errOut = newCLI(t).run("--pprof", "0.0.0.0:0", "version")
	if code != exitError || !strings.Contains(errOut, "--pprof-any-address") {
		t.Errorf("non-loopback without opt-in: exit %d, %q", code, errOut)
	}
}
