//go:build linux

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// testTimeout bounds one test's calls into the cluster.
const testTimeout = 2 * time.Minute

// testContext is a context that ends with the test (or after testTimeout).
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// newNamespace creates a namespace of its own for t with the demo workloads
// (deploy+svc web ×2 on "http"; deploy+svc api 8080; sts+svc db 5432
// "postgres"), all Ready and backed, and deletes it when t ends.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := newEmptyNamespace(t)
	if err := testCluster.DeployDemo(testContext(t), ns); err != nil {
		t.Fatalf("deploying the demo into %s: %v", ns, err)
	}
	return ns
}

// newEmptyNamespace creates a namespace of its own for t, deleted when t ends.
func newEmptyNamespace(t testing.TB) string {
	t.Helper()
	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	base := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	ns := strings.Trim("e2e-"+base, "-") + "-" + hex.EncodeToString(suffix[:])
	if err := testCluster.CreateNamespace(testContext(t), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := testCluster.Kubectl(ctx, "delete", "namespace", ns, "--wait=false"); err != nil {
			t.Logf("deleting namespace %s: %v: %s", ns, err, out)
		}
	})
	return ns
}

// occupyLocalPort listens on a free loopback port until t ends (a program
// that is not kpf holding a port) and returns it.
func occupyLocalPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// httpGetOnce GETs http://127.0.0.1:port/path and returns the trimmed body
// of a 200 answer.
func httpGetOnce(ctx context.Context, port int, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		return "", err
	}
	req.Close = true // a new connection (a new stream through the forward) each time
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// httpGetRetry GETs through a local port until it answers 200 or within
// seconds pass, and returns the trimmed body (the pod's name).
func httpGetRetry(t *testing.T, port int, path string, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), within)
	defer cancel()
	var last error
	for {
		body, err := httpGetOnce(ctx, port, path)
		if err == nil {
			return body
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("GET 127.0.0.1:%d%s did not succeed within %s: %v", port, path, within, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readBanner connects to a server-speaks-first backend through a local port
// and returns its first line (the pod's name).
func readBanner(ctx context.Context, port int) (string, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// kubectlForward is a running `kubectl port-forward`.
type kubectlForward struct {
	LocalPort int
	cmd       *exec.Cmd
	out       *testutil.SyncBuffer
	done      chan struct{}
	err       error
}

// startKubectlForward runs `kubectl port-forward -n ns target LOCAL:remote`
// (argv, --kubeconfig, --context) on a free local port, waits for its
// "Forwarding from" line and stops it when t ends.
func startKubectlForward(t *testing.T, kubeContext, ns, target, remote string) *kubectlForward {
	t.Helper()
	f, err := tryKubectlForward(t, kubeContext, ns, target, 0, remote)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// tryKubectlForward is startKubectlForward on local port port (0: a free
// one) returning kubectl's failure.
func tryKubectlForward(t *testing.T, kubeContext, ns, target string, port int, remote string) (*kubectlForward, error) {
	t.Helper()
	if port == 0 {
		port = testutil.FreePort(t)
	}
	f := &kubectlForward{LocalPort: port, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	f.cmd = exec.Command("kubectl", "--kubeconfig", testCluster.Kubeconfig, "--context", kubeContext,
		"port-forward", "--address", "127.0.0.1", "-n", ns, target, fmt.Sprintf("%d:%s", port, remote))
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kubectl: %w", err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(f.stop)
	deadline := time.After(30 * time.Second)
	for !strings.Contains(f.out.String(), "Forwarding from") {
		select {
		case <-f.done:
			return nil, fmt.Errorf("kubectl port-forward %s exited before forwarding (%v): %s", target, f.err, f.out.String())
		case <-deadline:
			return nil, fmt.Errorf("kubectl port-forward %s not forwarding after 30 s: %s", target, f.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return f, nil
}

// wait waits up to d for kubectl to exit and returns its output, whether
// it exited, and its exit error.
func (f *kubectlForward) wait(d time.Duration) (output string, exited bool, err error) {
	select {
	case <-f.done:
		return f.out.String(), true, f.err
	case <-time.After(d):
		return f.out.String(), false, nil
	}
}

// output is what kubectl printed so far.
func (f *kubectlForward) output() string { return f.out.String() }

// exitedNow reports whether kubectl has exited.
func (f *kubectlForward) exitedNow() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// stop kills kubectl (it is our own child, in its own group) and reaps it.
func (f *kubectlForward) stop() {
	if f.exitedNow() {
		return
	}
	if err := syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return
	}
	<-f.done
}
