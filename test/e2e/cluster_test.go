//go:build linux

package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/test/cluster"
)

// These tests prove the harness is real: a real kubectl port-forward goes
// through the real API server and kwok to the backend of the right pod, and
// fails the way it fails against a real cluster.

func TestHarnessPortForwardReachesPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	tests := []struct {
		target, remote string
		selector       string
		banner         bool // server-speaks-first instead of HTTP
	}{
		{target: "svc/web", remote: "80", selector: "app=web"},
		{target: "service/web", remote: "http", selector: "app=web"},
		{target: "deployment/api", remote: "8080", selector: "app=api"},
		{target: "statefulset/db", remote: "5432", selector: "app=db", banner: true},
		{target: "pod/db-0", remote: "postgres", selector: "app=db", banner: true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.target, "/", "_")+"_"+tt.remote, func(t *testing.T) {
			pods, err := testCluster.Pods(ctx, ns, tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			f := startKubectlForward(t, testCluster.Context, ns, tt.target, tt.remote)
			var got string
			if tt.banner {
				if got, err = readBanner(ctx, f.LocalPort); err != nil {
					t.Fatalf("reading the banner: %v (kubectl: %s)", err, f.output())
				}
			} else {
				got = httpGetRetry(t, f.LocalPort, "/healthz", 10*time.Second)
			}
			if !slices.Contains(pods, got) {
				t.Errorf("reached %q through %s, want one of %v", got, tt.target, pods)
			}
		})
	}
}

func TestHarnessRolloutRestartMovesTraffic(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	before, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	old := startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	if got := httpGetRetry(t, old.LocalPort, "/", 10*time.Second); !slices.Contains(before, got) {
		t.Fatalf("before the rollout reached %q, want one of %v", got, before)
	}

	if err := testCluster.RolloutRestart(ctx, ns, "web"); err != nil {
		t.Fatal(err)
	}
	after, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 {
		t.Fatalf("after the rollout: pods %v, want 2", after)
	}
	for _, p := range after {
		if slices.Contains(before, p) {
			t.Fatalf("pod %s survived the rollout (before %v, after %v)", p, before, after)
		}
	}
	f := startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	if got := httpGetRetry(t, f.LocalPort, "/", 10*time.Second); !slices.Contains(after, got) {
		t.Errorf("after the rollout reached %q, want one of the new pods %v", got, after)
	}
}

func TestHarnessDeletedPodLosesConnection(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	f := startKubectlForward(t, testCluster.Context, ns, "deployment/api", "8080")
	podName := httpGetRetry(t, f.LocalPort, "/", 10*time.Second)

	if err := testCluster.DeletePod(ctx, ns, podName); err != nil {
		t.Fatal(err)
	}
	// Each new connection makes kubectl open a new stream to the pod; once
	// the pod and its PortForward are gone kubectl gives up.
	deadline := time.Now().Add(30 * time.Second)
	for !f.exitedNow() && time.Now().Before(deadline) {
		if body, err := httpGetOnce(ctx, f.LocalPort, "/"); err == nil && body != podName {
			t.Fatalf("a forward to deleted pod %s reached %s", podName, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, exited, err := f.wait(time.Second)
	if !exited {
		t.Fatalf("kubectl still running 30 s after pod %s was deleted: %s", podName, out)
	}
	if err == nil {
		t.Errorf("kubectl exited 0, want an error: %s", out)
	}
	t.Logf("kubectl after the pod was deleted: %v\n%s", err, out)
	if !strings.Contains(out, "lost connection to pod") {
		t.Errorf("kubectl output lacks %q:\n%s", "lost connection to pod", out)
	}
}

func TestHarnessLimitedContext(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	limited := []string{"--context", testCluster.LimitedContext}

	// Outside its namespace everything is forbidden.
	for _, args := range [][]string{
		{"get", "pods", "-n", ns},
		{"get", "services", "-n", ns},
		{"get", "pods", "-n", "default"},
		{"get", "nodes"},
	} {
		out, err := testCluster.Kubectl(ctx, append(limited, args...)...)
		if err == nil || !strings.Contains(string(out), "forbidden") {
			t.Errorf("limited kubectl %v: err=%v, want forbidden; output: %s", args, err, out)
		}
	}
	if _, err := tryKubectlForward(t, testCluster.LimitedContext, ns, "svc/web", 0, "http"); err == nil ||
		!strings.Contains(err.Error(), "forbidden") {
		t.Errorf("limited port-forward outside %s: %v, want forbidden", cluster.LimitedNamespace, err)
	}

	// Inside it, reading and port-forwarding work (so "forbidden" above is RBAC, not a broken user).
	name := "echo-" + ns[len(ns)-6:]
	if err := testCluster.DeployEcho(ctx, cluster.LimitedNamespace, name, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = testCluster.Kubectl(ctx, "delete", "-n", cluster.LimitedNamespace, "deployment/"+name, "service/"+name, "--wait=false")
	})
	if out, err := testCluster.Kubectl(ctx, append(limited, "get", "pods,services,deployments,statefulsets", "-n", cluster.LimitedNamespace)...); err != nil {
		t.Errorf("limited kubectl get in %s: %v: %s", cluster.LimitedNamespace, err, out)
	}
	if out, err := testCluster.Kubectl(ctx, append(limited, "delete", "service", name, "-n", cluster.LimitedNamespace)...); err == nil ||
		!strings.Contains(string(out), "forbidden") {
		t.Errorf("limited kubectl delete in %s: err=%v, want forbidden; output: %s", cluster.LimitedNamespace, err, out)
	}
	pods, err := testCluster.Pods(ctx, cluster.LimitedNamespace, "app="+name)
	if err != nil {
		t.Fatal(err)
	}
	f := startKubectlForward(t, testCluster.LimitedContext, cluster.LimitedNamespace, "svc/"+name, "http")
	if got := httpGetRetry(t, f.LocalPort, "/", 10*time.Second); !slices.Contains(pods, got) {
		t.Errorf("limited forward reached %q, want one of %v", got, pods)
	}
}

func TestHarnessBusyLocalPort(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	busy := occupyLocalPort(t)
	_, err := tryKubectlForward(t, testCluster.Context, ns, "svc/web", busy, "http")
	if err == nil || !strings.Contains(err.Error(), "unable to listen on any of the requested ports") {
		t.Errorf("port-forward on busy port %d: %v, want unable to listen", busy, err)
	}
}

// TestHarnessFaultInjection stops and restarts kwok and the API server. It
// is deliberately not parallel: the other tests share the control plane.
func TestHarnessFaultInjection(t *testing.T) {
	ns := newNamespace(t)
	ctx := testContext(t)

	f := startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	httpGetRetry(t, f.LocalPort, "/", 10*time.Second)
	if err := testCluster.StopKwok(ctx); err != nil {
		t.Fatal(err)
	}
	// Without the "kubelet" the forward dies (idle: after ~8.5 s; a new connection sooner).
	deadline := time.Now().Add(30 * time.Second)
	for !f.exitedNow() && time.Now().Before(deadline) {
		_, _ = httpGetOnce(ctx, f.LocalPort, "/")
		time.Sleep(250 * time.Millisecond)
	}
	if out, exited, _ := f.wait(time.Second); !exited {
		t.Fatalf("kubectl still forwarding 30 s after kwok stopped:\n%s", out)
	}
	if err := testCluster.StartKwok(ctx); err != nil {
		t.Fatal(err)
	}
	f = startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	httpGetRetry(t, f.LocalPort, "/", 20*time.Second)

	// The API server ignores SIGTERM with a forward open; Stop must still end it.
	if err := testCluster.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if out, exited, _ := f.wait(10 * time.Second); !exited {
		t.Errorf("kubectl still running 10 s after the API server stopped:\n%s", out)
	}
	if out, err := testCluster.Kubectl(ctx, "get", "pods", "-n", ns, "--request-timeout=2s"); err == nil {
		t.Errorf("kubectl get succeeded with the API server stopped: %s", out)
	}
	if err := testCluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.WaitBacked(ctx, ns, "app=web", 2); err != nil {
		t.Fatal(err)
	}
	f = startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	pods, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGetRetry(t, f.LocalPort, "/", 20*time.Second); !slices.Contains(pods, got) {
		t.Errorf("after the restarts reached %q, want one of %v", got, pods)
	}
}

// TestHarnessFreezeKwok freezes kwok (SIGSTOP): a request through a forward
// gets no answer while it is frozen, and its answer once kwok is thawed.
// Not parallel: it freezes the shared kwok.
func TestHarnessFreezeKwok(t *testing.T) {
	ns := newNamespace(t)
	ctx := testContext(t)
	f := startKubectlForward(t, testCluster.Context, ns, "svc/web", "http")
	httpGetRetry(t, f.LocalPort, "/", 10*time.Second)
	pods, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if err := testCluster.FreezeKwok(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = testCluster.ThawKwok()
		}
	}()
	answer := make(chan string, 1)
	go func() {
		body, err := slowGet(f.LocalPort, time.Minute)
		if err != nil {
			body = "error: " + err.Error()
		}
		answer <- body
	}()
	select {
	case got := <-answer:
		t.Fatalf("answered while kwok was frozen: %q", got)
	case <-time.After(2 * time.Second):
	}
	if err := testCluster.ThawKwok(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	if got := <-answer; !slices.Contains(pods, got) {
		t.Errorf("after the thaw the request got %q, want one of %v", got, pods)
	}
	if got := httpGetRetry(t, f.LocalPort, "/", 10*time.Second); !slices.Contains(pods, got) {
		t.Errorf("a new request after the thaw reached %q, want one of %v", got, pods)
	}
}

// slowGet is one GET / through port that waits up to timeout for the
// answer, and returns its body without the newline.
func slowGet(port int, timeout time.Duration) (string, error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: kpf\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}
