//go:build linux

package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestNewPKI(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("pki dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, f := range []string{p.CACert, p.CAKey, p.AdminCert, p.AdminKey, p.LimitedCert, p.LimitedKey, p.SAKey, p.SAPub} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	for _, pair := range [][2]string{{p.AdminCert, p.AdminKey}, {p.LimitedCert, p.LimitedKey}} {
		if _, err := tls.LoadX509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("key pair %s: %v", pair[0], err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, p.CACert))

	admin := readCert(t, p.AdminCert)
	if admin.Subject.CommonName != "admin" || len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin subject %v, want CN=admin O=system:masters", admin.Subject)
	}
	for _, name := range []string{"127.0.0.1", "10.96.0.1", "localhost", "kubernetes.default.svc.cluster.local"} {
		if _, err := admin.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("admin cert as server for %s: %v", name, err)
		}
	}
	if _, err := admin.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Error("admin cert verifies for example.com")
	}
	limited := readCert(t, p.LimitedCert)
	if limited.Subject.CommonName != LimitedUser || len(limited.Subject.Organization) != 0 {
		t.Errorf("limited subject %v, want CN=%s and no groups", limited.Subject, LimitedUser)
	}
	if _, err := limited.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("limited cert as client: %v", err)
	}
	if _, err := limited.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("limited cert verifies as a server")
	}
}

func TestRenderKubeconfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := &pki{}
	for _, f := range []struct {
		field   *string
		content string
	}{
		{&p.CACert, "ca"}, {&p.AdminCert, "admin-cert"}, {&p.AdminKey, "admin-key"},
		{&p.LimitedCert, "limited-cert"}, {&p.LimitedKey, "limited-key"},
	} {
		*f.field = filepath.Join(dir, f.content)
		if err := os.WriteFile(*f.field, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := renderKubeconfig("https://127.0.0.1:6443", p)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "kubeconfig.golden", got)
}

func TestGateOnBacked(t *testing.T) {
	t.Parallel()
	stage := "kind: Stage\nmetadata:\n  name: pod-ready\nspec:\n  resourceRef:\n    kind: Pod\n  selector:\n    matchExpressions:\n    - key: '.status.phase'\n      operator: 'In'\n  next: {}\n"
	got, err := gateOnBacked([]byte(stage))
	if err != nil {
		t.Fatal(err)
	}
	want := "  selector:\n    matchAnnotations:\n      " + BackedAnnotation + ": \"true\"\n    matchExpressions:\n"
	if !strings.Contains(string(got), want) {
		t.Errorf("gated stage:\n%s\nwant it to contain:\n%s", got, want)
	}
	for _, bad := range []string{"kind: Stage\n", stage + "  selector:\n", string(got)} {
		if _, err := gateOnBacked([]byte(bad)); err == nil {
			t.Errorf("gateOnBacked accepted a stage of another shape:\n%s", bad)
		}
	}
}

func TestWriteKwokConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var stages []string
	for i, body := range []string{"kind: Stage\nmetadata:\n  name: a\n", "kind: Stage\nmetadata:\n  name: b"} {
		path := filepath.Join(dir, "s"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		stages = append(stages, path)
	}
	out := filepath.Join(dir, "kwok.yaml")
	if err := writeKwokConfig(out, stages); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "---\n")
	if len(docs) != 3 {
		t.Fatalf("%d YAML documents, want the configuration and 2 stages:\n%s", len(docs), data)
	}
	if !strings.Contains(docs[0], "kind: KwokConfiguration") || !strings.Contains(docs[0], "nodeLeaseDurationSeconds: 40") {
		t.Errorf("first document is not a KwokConfiguration keeping leases:\n%s", docs[0])
	}
	// kwok exits unless every parallelism field is > 0 once a configuration is given.
	for _, field := range []string{"nodeLeaseParallelism", "podPlayStageParallelism", "nodePlayStageParallelism", "podsOnNodeSyncParallelism"} {
		m := regexp.MustCompile(`(?m)^\s+` + field + `: (\d+)$`).FindStringSubmatch(docs[0])
		if m == nil || m[1] == "0" {
			t.Errorf("%s not set > 0", field)
		}
	}
	if !strings.Contains(docs[0], "enableDebuggingHandlers: true") {
		t.Error("debugging handlers (port-forward) not enabled")
	}
	if !strings.Contains(docs[2], "name: b") || !strings.HasSuffix(docs[2], "\n") {
		t.Errorf("last stage %q", docs[2])
	}
}

func TestFreePortsDistinct(t *testing.T) {
	t.Parallel()
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v not distinct", ports)
		}
		seen[p] = true
	}
}

func TestComponentStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
	}{
		{"exits on SIGTERM", "sleep 60"},
		{"ignores SIGTERM", "trap '' TERM; sleep 60 & wait; sleep 60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &component{name: "test", bin: "/bin/sh", args: []string{"-c", tt.script},
				logPath: filepath.Join(t.TempDir(), "test.log"), grace: 300 * time.Millisecond}
			if err := c.start(); err != nil {
				t.Fatal(err)
			}
			pid := c.pid()
			if pid == 0 || c.exited() != nil {
				t.Fatal("not running after start")
			}
			if err := c.start(); err == nil {
				t.Error("second start succeeded while running")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.stop(ctx); err != nil {
				t.Fatal(err)
			}
			if c.exited() == nil || c.pid() != 0 {
				t.Error("still running after stop")
			}
			if err := c.stop(ctx); err != nil {
				t.Errorf("second stop: %v", err)
			}
			// The whole group is gone (the backgrounded sleep too).
			if out, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); len(out) > 0 {
				t.Errorf("process %d still exists", pid)
			}
			// Restartable with the same argv.
			if err := c.start(); err != nil {
				t.Fatal(err)
			}
			if err := c.stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// procState is the state letter of pid in /proc (R, S, T, Z…), "" if gone.
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return f[0]
}

// TestComponentFreeze stops and continues a component's process group, and
// stops a frozen one with SIGTERM (not only by SIGKILL after the grace).
func TestComponentFreeze(t *testing.T) {
	t.Parallel()
	c := &component{name: "test", bin: "/bin/sh", args: []string{"-c", "sleep 60 & wait"},
		logPath: filepath.Join(t.TempDir(), "test.log"), grace: time.Hour}
	if err := c.signal(syscall.SIGSTOP); err == nil {
		t.Error("signalling a component never started succeeded")
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	pid := c.pid()
	if err := c.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "T")
	if err := c.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "S")
	if err := c.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "T")
	// The grace is an hour: only a SIGTERM that takes effect ends it in time.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.exited(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("a frozen component stopped with %v, want by SIGTERM", err)
	}
	if err := c.signal(syscall.SIGCONT); err == nil {
		t.Error("signalling a stopped component succeeded")
	}
}

func waitState(t *testing.T, pid int, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = procState(t, pid); got == want {
			return
		}
	}
	t.Fatalf("process %d in state %q, want %q", pid, got, want)
}

func TestEnsureBinariesFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvBinDir, dir)
	if _, err := EnsureBinaries(context.Background(), nil); err == nil {
		t.Fatal("an empty KPF_TESTCLUSTER_BIN was accepted")
	}
	for _, name := range allBinaries() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	got, err := EnsureBinaries(context.Background(), nil)
	if err != nil || got != dir {
		t.Fatalf("EnsureBinaries = %q, %v; want %q", got, err, dir)
	}
}

func TestDefaultBinDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	got, err := DefaultBinDir()
	want := "/x/cache/kpf/testcluster/k8s-v1.36.3_etcd-v3.6.8_kwok-v0.8.0/bin"
	if err != nil || got != want {
		t.Errorf("DefaultBinDir = %q, %v; want %q", got, err, want)
	}
}

func TestToolsDir(t *testing.T) {
	t.Parallel()
	dir, err := ToolsDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tools.go")); err != nil {
		t.Errorf("ToolsDir = %s without tools.go: %v", dir, err)
	}
}

// TestCopyLogs copies the components' logs that exist and skips one that
// was never written.
func TestCopyLogs(t *testing.T) {
	src := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &Cluster{
		etcd:      &component{logPath: write("etcd.log", "etcd says\n")},
		apiserver: &component{logPath: write("kube-apiserver.log", "apiserver says\n")},
		kwok:      &component{logPath: filepath.Join(src, "kwok.log")}, // never started
	}
	dst := filepath.Join(t.TempDir(), "cluster")
	if err := c.CopyLogs(dst); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Name()+": "+string(b))
	}
	want := []string{"etcd.log: etcd says\n", "kube-apiserver.log: apiserver says\n"}
	if !slices.Equal(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}
}
