//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/runtime/native/engine/enginetest"
	"github.com/kpf-dev/kpf/test/cluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
)

// These tests run kpf's native forwarding engine in-process against the
// local control plane: real API server, real upgrades (WebSocket and
// SPDY), real kwok tunnels to the pods' backends.

// newEngine returns an engine that closes with t, and Clients for
// kubeContext of the test cluster.
func newEngine(t testing.TB, kubeContext string, opts engine.Options) (*engine.Engine, *engine.Clients) {
	t.Helper()
	c, _, err := enginetest.LoadClients(testCluster.Kubeconfig, kubeContext)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Log == nil {
		level := hclog.Warn
		if l := os.Getenv("KPF_E2E_LOG"); l != "" {
			level = hclog.LevelFromString(l)
		}
		opts.Log = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: os.Stderr, Level: level})
	}
	e := engine.New(opts)
	t.Cleanup(e.Close)
	return e, c
}

// startEngineForward starts cfg on a free loopback port (unless cfg sets
// one) and stops it when t ends.
func startEngineForward(t testing.TB, e *engine.Engine, c *engine.Clients, cfg engine.Config) *engine.Forward {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	if cfg.Name == "" {
		cfg.Name = "fwd"
	}
	f, err := e.Start(testContext(t), c, cfg)
	if err != nil {
		t.Fatalf("starting %s (%s%v): %v", cfg.Name, cfg.Target, cfg.Selector, err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

func forwardPort(f *engine.Forward) int { return f.Addr().(*net.TCPAddr).Port }

func TestEngineForwardsReachTheRightPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	tests := []struct {
		name, target string
		selector     map[string]string
		remote       string
		pods         string           // label selector of the pods it may reach
		banner       bool             // server-speaks-first instead of HTTP
		transport    engine.Transport // empty: the engine's default (auto)
	}{
		{name: "service named port", target: "service/web", remote: "http", pods: "app=web"},
		{name: "service numeric port to named targetPort", target: "svc/web", remote: "80", pods: "app=web"},
		{name: "service over WebSocket", target: "svc/web", remote: "http", pods: "app=web", transport: engine.TransportWebSocket},
		{name: "service numeric targetPort", target: "svc/api", remote: "8080", pods: "app=api"},
		{name: "deployment", target: "deployment/api", remote: "8080", pods: "app=api"},
		{name: "deployment named container port", target: "deploy/web", remote: "http", pods: "app=web"},
		{name: "statefulset", target: "statefulset/db", remote: "5432", pods: "app=db", banner: true},
		{name: "pod named port", target: "pod/db-0", remote: "postgres", pods: "app=db", banner: true},
		{name: "selector", selector: map[string]string{"app": "web"}, remote: "http", pods: "app=web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c := newEngine(t, testCluster.Context, engine.Options{})
			c.Transport = tt.transport
			pods, err := testCluster.Pods(ctx, ns, tt.pods)
			if err != nil {
				t.Fatal(err)
			}
			target, err := kinds.ParseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			f := startEngineForward(t, e, c, engine.Config{Target: target, Selector: tt.selector, Namespace: ns, RemotePort: tt.remote})
			for i := range 3 { // three connections, one tunnel
				var got string
				if tt.banner {
					got, err = readBanner(ctx, forwardPort(f))
				} else {
					got, err = httpGetOnce(ctx, forwardPort(f), "/")
				}
				if err != nil {
					t.Fatalf("connection %d: %v (status %+v)", i, err, f.Status())
				}
				if !slices.Contains(pods, got) {
					t.Fatalf("reached %q, want one of %v", got, pods)
				}
			}
			s := f.Status()
			if s.Total != 3 || s.BytesIn == 0 || !s.Listening || !slices.Contains(pods, s.Pod) || s.LastError != "" {
				t.Errorf("status %+v", s)
			}
			if !tt.banner && s.BytesOut == 0 {
				t.Errorf("no bytes counted towards the pod: %+v", s)
			}
			waitUntil(t, 30*time.Second, "every connection to end", func() bool { return f.Status().Active == 0 })
		})
	}
}

func TestEngineRollingRestartLosesNoRequest(t *testing.T) {
	t.Parallel()
	ns := newEmptyNamespace(t)
	ctx := testContext(t)
	if err := testCluster.DeployEcho(ctx, ns, "echo", 2); err != nil {
		t.Fatal(err)
	}
	before, err := testCluster.Pods(ctx, ns, "app=echo")
	if err != nil {
		t.Fatal(err)
	}
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/echo"), Namespace: ns, RemotePort: "http"})
	port := forwardPort(f)
	httpGetRetry(t, port, "/", 10*time.Second)

	stop := make(chan struct{})
	done := make(chan connLoopResult, 1)
	go func() { done <- connLoop(port, stop) }()
	time.Sleep(time.Second)
	if err := testCluster.RolloutRestart(ctx, ns, "echo"); err != nil {
		close(stop)
		t.Fatal(err)
	}
	after, err := testCluster.Pods(ctx, ns, "app=echo")
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	// Keep going until a new pod answered (and a second more).
	waitUntil(t, 20*time.Second, "a new pod to answer", func() bool {
		body, err := httpGetOnce(ctx, port, "/")
		return err == nil && slices.Contains(after, body)
	})
	time.Sleep(time.Second)
	close(stop)
	r := <-done
	t.Logf("%d connections, %d failed, %d answered by a speak-first banner; answered by %v (before %v, after %v)",
		r.total, len(r.failures), len(r.banners), r.seen, before, after)
	r.check(t, before, after)
	if s := f.Status(); !s.Listening || !slices.Contains(after, s.Pod) {
		t.Errorf("after the rollout: %+v", s)
	}
}

func TestEngineDeletedPodReplacementServes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("deployment/api"), Namespace: ns, RemotePort: "8080"})
	port := forwardPort(f)
	old := httpGetRetry(t, port, "/", 10*time.Second)
	ln := f.Addr().String()

	if err := testCluster.DeletePod(ctx, ns, old); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.WaitBacked(ctx, ns, "app=api", 1); err != nil {
		t.Fatal(err)
	}
	pods, err := testCluster.Pods(ctx, ns, "app=api")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 || pods[0] == old {
		t.Fatalf("pods after the delete: %v (deleted %s)", pods, old)
	}
	// The replacement is Ready and backed: new connections reach it, at once.
	for i := range 5 {
		got, err := httpGetOnce(ctx, port, "/")
		if err != nil || got != pods[0] {
			t.Fatalf("request %d after the replacement was Ready: %q, %v; want %s (status %+v)", i, got, err, pods[0], f.Status())
		}
	}
	if s := f.Status(); !s.Listening || s.Addr != ln || s.Pod != pods[0] || s.Reconnects < 1 {
		t.Errorf("status %+v: want the same listener, pod %s and a reconnect", s, pods[0])
	}
	evs, _ := f.Events(0)
	var switched bool
	for _, ev := range evs {
		switched = switched || (ev.Kind == engine.EventPodSwitch && ev.Pod == pods[0])
	}
	if !switched {
		t.Errorf("no pod-switch event to %s in %+v", pods[0], evs)
	}
}

// A pod that runs but is not Ready yet (a rollout's replacement waiting for
// its readiness probe) gets its tunnel while it starts, when the forward is
// in use: its first connection after Ready does not wait for a dial.
func TestEnginePreDialsStartingPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/web"), Namespace: ns, RemotePort: "http",
		Health: engine.HealthConfig{Kind: engine.HealthNone}})
	port := forwardPort(f)
	first := httpGetRetry(t, port, "/", 10*time.Second) // its tunnel stays open: in use
	pods, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil || len(pods) != 2 {
		t.Fatalf("pods of web: %v, %v", pods, err)
	}
	other := pods[0]
	if other == first {
		other = pods[1]
	}
	setReady := func(pod, status string) {
		t.Helper()
		patch := `{"status":{"conditions":[{"type":"Ready","status":"` + status + `"}]}}`
		if out, err := testCluster.Kubectl(ctx, "-n", ns, "patch", "pod", pod, "--subresource=status", "-p", patch); err != nil {
			t.Fatalf("marking %s Ready=%s: %v: %s", pod, status, err, out)
		}
	}
	setReady(other, "False") // Running, not Ready: starting
	deadline := time.Now().Add(10 * time.Second)
	for e.OpenTunnels() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tunnels open: the starting pod %s was not dialed", e.OpenTunnels(), other)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := httpGetOnce(ctx, port, "/"); err != nil || got != first {
		t.Fatalf("while %s is not Ready: %q, %v; want %s", other, got, err, first)
	}
	setReady(other, "True")
	if err := testCluster.DeletePod(ctx, ns, first); err != nil {
		t.Fatal(err)
	}
	if got := httpGetRetry(t, port, "/", 10*time.Second); got != other {
		t.Fatalf("after %s went: %s, want %s", first, got, other)
	}
	evs, _ := f.Events(0)
	for _, ev := range evs {
		if ev.Kind == engine.EventTunnelOpen && ev.Pod == other {
			t.Errorf("the forward dialed %s itself (%+v): the tunnel dialed while it started went unused", other, ev)
		}
	}
}

// The engine's REST API (core/v1 and apps/v1 only, no typed clientset)
// against the real API server: every read it makes.
func TestEngineAPIAgainstTheServer(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	c, _, err := enginetest.LoadClients(testCluster.Kubeconfig, testCluster.Context)
	if err != nil {
		t.Fatal(err)
	}
	api := c.API
	svc, err := api.GetService(ctx, ns, "web")
	if err != nil || svc.Spec.Selector["app"] != "web" {
		t.Fatalf("GetService web: %v, %v", svc, err)
	}
	svcs, err := api.ListServices(ctx, ns)
	if err != nil || len(svcs.Items) != 3 {
		t.Fatalf("ListServices: %d items, %v; want web, api and db", len(svcs.Items), err)
	}
	d, err := api.GetDeployment(ctx, ns, "api")
	if err != nil || d.Spec.Selector == nil {
		t.Fatalf("GetDeployment api: %v, %v", d, err)
	}
	ds, err := api.ListDeployments(ctx, ns)
	if err != nil || len(ds.Items) != 2 {
		t.Fatalf("ListDeployments: %d items, %v; want web and api", len(ds.Items), err)
	}
	sts, err := api.GetStatefulSet(ctx, ns, "db")
	if err != nil || sts.Spec.Selector == nil {
		t.Fatalf("GetStatefulSet db: %v, %v", sts, err)
	}
	stss, err := api.ListStatefulSets(ctx, ns)
	if err != nil || len(stss.Items) != 1 {
		t.Fatalf("ListStatefulSets: %d items, %v; want db", len(stss.Items), err)
	}
	pods, err := api.ListPods(ctx, ns, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("ListPods app=web: %d items, %v", len(pods.Items), err)
	}
	pod, err := api.GetPod(ctx, ns, pods.Items[0].Name)
	if err != nil || pod.UID != pods.Items[0].UID {
		t.Fatalf("GetPod: %v, %v", pod, err)
	}
	if _, err := api.GetService(ctx, ns, "nope"); !apierrors.IsNotFound(err) {
		t.Errorf("GetService of a missing service: %v, want NotFound", err)
	}
	w, err := api.WatchPods(ctx, ns, metav1.ListOptions{LabelSelector: "app=api", ResourceVersion: pods.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := testCluster.DeletePod(ctx, ns, mustOnePod(t, ns, "app=api")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if _, ok := ev.Object.(*corev1.Pod); !ok {
			t.Errorf("watch event %s of %T, want a *v1.Pod", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Error("no pod event within 10 s of deleting api's pod")
	}
	u := api.PortForwardURL(ns, "p")
	if want := "/api/v1/namespaces/" + ns + "/pods/p/portforward"; !strings.HasSuffix(u.Path, want) {
		t.Errorf("PortForwardURL %s, want the path to end in %s", u, want)
	}
}

func mustOnePod(t *testing.T, ns, selector string) string {
	t.Helper()
	pods, err := testCluster.Pods(testContext(t), ns, selector)
	if err != nil || len(pods) != 1 {
		t.Fatalf("pods %s: %v, %v", selector, pods, err)
	}
	return pods[0]
}

func TestEngineWaitsForAPodThenServes(t *testing.T) {
	t.Parallel()
	ns := newEmptyNamespace(t)
	ctx := testContext(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{PodWaitTimeout: 60 * time.Second})
	// No pod yet: Start succeeds, the forward listens, a connection waits.
	f := startEngineForward(t, e, c, engine.Config{Selector: map[string]string{"app": "late"}, Namespace: ns, RemotePort: "http"})
	if s := f.Status(); !s.Listening || s.Health != engine.HealthUnhealthy {
		t.Errorf("with no pod: %+v", s)
	}
	conn, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitUntil(t, 10*time.Second, "the connection to be accepted", func() bool { return f.Status().Active == 1 })
	time.Sleep(time.Second)
	if s := f.Status(); s.Active != 1 || s.LastError != "" {
		t.Fatalf("a connection with no pod behind the forward did not wait: %+v", s)
	}
	if err := testCluster.DeployEcho(ctx, ns, "late", 1); err != nil {
		t.Fatal(err)
	}
	pods, err := testCluster.Pods(ctx, ns, "app=late")
	if err != nil {
		t.Fatal(err)
	}
	// The waiting connection goes to the pod as soon as it is Ready — with
	// kwok possibly a moment before the harness backs it, so its answer
	// is not asserted; it must not have timed out waiting.
	waitUntil(t, 10*time.Second, "the waiting connection to be handed on", func() bool {
		evs, _ := f.Events(0)
		for _, ev := range evs {
			if ev.Kind == engine.EventConnOpened {
				return true
			}
		}
		return false
	})
	if got := httpGetRetry(t, forwardPort(f), "/", 10*time.Second); !slices.Contains(pods, got) {
		t.Errorf("reached %q, want one of %v", got, pods)
	}
	if s := f.Status(); strings.Contains(s.LastError, runtime.ErrNoPod.Error()) {
		t.Errorf("a connection timed out waiting: %+v", s)
	}
}

func TestEngineForbiddenIsPermanent(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	e, c := newEngine(t, testCluster.LimitedContext, engine.Options{})
	_, err := e.Start(testContext(t), c, engine.Config{Name: "x", Target: mustTarget("svc/web"), Namespace: ns, Address: "127.0.0.1", RemotePort: "http"})
	if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("limited context outside its namespace: %v, want a permanent forbidden error", err)
	}
	_, err = e.Start(testContext(t), c, engine.Config{Name: "x", Selector: map[string]string{"app": "web"}, Namespace: ns, Address: "127.0.0.1", RemotePort: "http"})
	if !runtime.IsPermanent(err) {
		t.Errorf("limited context, selector outside its namespace: %v, want permanent", err)
	}
	if _, _, err := enginetest.LoadClients(testCluster.Kubeconfig, "no-such-context"); !runtime.IsPermanent(err) {
		t.Errorf("unknown context: %v, want permanent", err)
	}
}

// The limited user may get and list pods in its namespace but not watch
// them: the engine lists per connection instead.
func TestEngineLimitedContextWithoutWatch(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	name := fmt.Sprintf("eng-%d", time.Now().UnixNano()%1_000_000)
	if err := testCluster.DeployEcho(ctx, cluster.LimitedNamespace, name, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = testCluster.Kubectl(ctx, "delete", "-n", cluster.LimitedNamespace, "deployment/"+name, "service/"+name, "--wait=false")
	})
	pods, err := testCluster.Pods(ctx, cluster.LimitedNamespace, "app="+name)
	if err != nil {
		t.Fatal(err)
	}
	e, c := newEngine(t, testCluster.LimitedContext, engine.Options{})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("svc/" + name), Namespace: cluster.LimitedNamespace, RemotePort: "http"})
	for range 3 {
		if got := httpGetRetry(t, forwardPort(f), "/", 10*time.Second); !slices.Contains(pods, got) {
			t.Fatalf("reached %q, want one of %v", got, pods)
		}
	}
}

func TestEnginePortInUse(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	busy := occupyLocalPort(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	_, err := e.Start(testContext(t), c, engine.Config{Name: "x", Target: mustTarget("svc/web"), Namespace: ns, Address: "127.0.0.1", LocalPort: busy, RemotePort: "http"})
	if !errors.Is(err, runtime.ErrPortInUse) {
		t.Errorf("Start on busy port %d: %v, want ErrPortInUse", busy, err)
	}
}

// TestEngineSurvivesAPIServerRestart is not parallel: it stops the shared
// API server (parallel tests wait until it is done).
func TestEngineSurvivesAPIServerRestart(t *testing.T) {
	ns := newNamespace(t)
	ctx := testContext(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{PodWaitTimeout: 2 * time.Second, DialTimeout: 2 * time.Second, BackoffMax: time.Second})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("svc/web"), Namespace: ns, RemotePort: "http"})
	port := forwardPort(f)
	httpGetRetry(t, port, "/", 10*time.Second)
	if err := testCluster.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Without the API server no connection gets through, but the listener stays.
	waitUntil(t, 20*time.Second, "connections to fail", func() bool {
		_, err := httpGetOnce(ctx, port, "/")
		return err != nil
	})
	if !f.Status().Listening {
		t.Error("the listener closed with the API server")
	}
	if err := testCluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	pods, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGetRetry(t, port, "/", 30*time.Second); !slices.Contains(pods, got) {
		t.Errorf("after the restart reached %q, want one of %v", got, pods)
	}
	if s := f.Status(); s.Addr != f.Addr().String() || !s.Listening || s.LastError == "" {
		t.Errorf("status %+v: want the listener kept and the outage's error recorded", s)
	}
}

// Health checks run through the open tunnel: an HTTP check of a path the
// backend answers 503 makes the forward unhealthy (the pod answered: the
// tunnel stays for its connections); a good path keeps it healthy.
func TestEngineHealthChecksThroughTheTunnel(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	check := func(path string) engine.HealthConfig {
		return engine.HealthConfig{Kind: engine.HealthHTTP, HTTPPath: path, Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, FailureThreshold: 2}
	}
	good := startEngineForward(t, e, c, engine.Config{Name: "good", Target: mustTarget("svc/web"), Namespace: ns, RemotePort: "http", Health: check("/healthz")})
	bad := startEngineForward(t, e, c, engine.Config{Name: "bad", Target: mustTarget("svc/api"), Namespace: ns, RemotePort: "8080", Health: check("/status/503")})
	tcp := startEngineForward(t, e, c, engine.Config{Name: "tcp", Target: mustTarget("sts/db"), Namespace: ns, RemotePort: "5432",
		Health: engine.HealthConfig{Kind: engine.HealthTCP, Interval: 100 * time.Millisecond}})
	httpGetRetry(t, forwardPort(good), "/", 10*time.Second)
	httpGetRetry(t, forwardPort(bad), "/", 10*time.Second)
	if _, err := readBanner(testContext(t), forwardPort(tcp)); err != nil {
		t.Fatal(err)
	}
	passed := func(f *engine.Forward) bool {
		evs, _ := f.Events(0)
		for _, ev := range evs {
			if ev.Kind == engine.EventHealth && ev.Message == engine.HealthHealthy {
				return true
			}
		}
		return false
	}
	waitUntil(t, 10*time.Second, "a passing HTTP check", func() bool { return passed(good) })
	waitUntil(t, 10*time.Second, "a passing TCP check", func() bool { return passed(tcp) })
	waitUntil(t, 10*time.Second, "the 503 check to turn unhealthy", func() bool { return bad.Status().Health == engine.HealthUnhealthy })
	if s := bad.Status(); !strings.Contains(s.HealthError, "503") || !s.Listening {
		t.Errorf("bad: %+v", s)
	}
	if s := good.Status(); s.Health != engine.HealthHealthy {
		t.Errorf("good: %+v", s)
	}
	// The unhealthy forward still serves: health is reported, never a reason to drop the listener.
	if _, err := httpGetOnce(testContext(t), forwardPort(bad), "/"); err != nil {
		t.Errorf("the unhealthy forward no longer serves: %v", err)
	}
}

// deletingDialer deletes the pod of the first dial through the API server
// before dialing it: the race of a pod deleted between the engine's choice
// and its dial, made certain.
type deletingDialer struct {
	t       *testing.T
	once    sync.Once
	deleted chan string
}

func (d *deletingDialer) Dial(ctx context.Context, c *engine.Clients, namespace, pod string, t engine.Transport) (httpstream.Connection, error) {
	d.once.Do(func() {
		if err := testCluster.DeletePod(ctx, namespace, pod); err != nil {
			d.t.Errorf("deleting %s before its dial: %v", pod, err)
		}
		d.deleted <- pod
	})
	return engine.KubeDialer{}.Dial(ctx, c, namespace, pod, t)
}

// The API server refuses to dial a deleted pod; nothing reached it, so the
// connection goes to the other Ready pod instead of failing.
func TestEngineDialToDeletedPodMovesToAnother(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	d := &deletingDialer{t: t, deleted: make(chan string, 1)}
	e, c := newEngine(t, testCluster.Context, engine.Options{Dialer: d})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/web"), Namespace: ns, RemotePort: "http",
		Health: engine.HealthConfig{Kind: engine.HealthNone}})
	got, err := httpGetOnce(testContext(t), forwardPort(f), "/")
	deleted := <-d.deleted
	if err != nil || got == "" || got == deleted {
		t.Fatalf("the first connection: %q, %v; want the web pod other than %s (status %+v)", got, err, deleted, f.Status())
	}
	evs, _ := f.Events(0)
	if !slices.ContainsFunc(evs, func(ev engine.Event) bool {
		return ev.Kind == engine.EventConnRetry && ev.Pod == deleted && strings.Contains(ev.Message, "not found")
	}) {
		t.Errorf("no conn-retry event saying %s was not found in %+v", deleted, evs)
	}
	if s := f.Status(); s.LastError != "" {
		t.Errorf("a connection served in the end left last error %q", s.LastError)
	}
}

// A user who may read pods and services but not port-forward: the API
// server forbids the dial, which no other pod would answer otherwise, so
// the connection fails at once instead of trying the rest or waiting for
// the retries to end.
func TestEngineForbiddenDialFailsAtOnce(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	role := "read-only-" + ns
	for _, args := range [][]string{
		{"create", "role", role, "-n", ns, "--verb=get,list", "--resource=pods,services"},
		{"create", "rolebinding", role, "-n", ns, "--role=" + role, "--user=" + cluster.LimitedUser},
	} {
		if out, err := testCluster.Kubectl(ctx, args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	const retries = 30 * time.Second
	e, c := newEngine(t, testCluster.LimitedContext, engine.Options{RefusedRetry: retries})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/web"), Namespace: ns, RemotePort: "http",
		Health: engine.HealthConfig{Kind: engine.HealthNone}})
	start := time.Now()
	if got, err := httpGetOnce(ctx, forwardPort(f), "/"); err == nil {
		t.Fatalf("served %q without the right to port-forward", got)
	}
	if took := time.Since(start); took > retries/2 {
		t.Errorf("the connection failed after %s: it waited for the retries to end", took.Round(time.Millisecond))
	}
	if s := f.Status(); !strings.Contains(s.LastError, "forbidden") {
		t.Errorf("last error %q, want forbidden", s.LastError)
	}
}

// A TCP health check to a server that speaks first (a database greeting)
// gets bytes it never reads; spdystream hands each stream's data to one of
// five frame workers and blocks it until the stream is read, so an unread
// check stalled every fifth stream of the tunnel for the rest of the
// check. With checks every 300 ms, connections through the forward must
// still reach the pod at once: the echo backend speaks first to a client
// silent for 200 ms, so a stalled request shows as its banner. Not
// parallel: the parallel tests' load could delay a request that long too.
func TestEngineHealthCheckDoesNotStallTheTunnel(t *testing.T) {
	ns := newEmptyNamespace(t)
	ctx := testContext(t)
	if err := testCluster.DeployEcho(ctx, ns, "echo", 1); err != nil {
		t.Fatal(err)
	}
	e, c := newEngine(t, testCluster.Context, engine.Options{})
	f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/echo"), Namespace: ns, RemotePort: "http",
		Health: engine.HealthConfig{Kind: engine.HealthTCP, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second}})
	port := forwardPort(f)
	httpGetRetry(t, port, "/", 10*time.Second)
	stop := make(chan struct{})
	done := make(chan connLoopResult, 1)
	go func() { done <- connLoop(port, stop) }()
	time.Sleep(3 * time.Second)
	close(stop)
	r := <-done
	if len(r.failures) > 0 {
		t.Errorf("%d of %d connections failed:\n%s", len(r.failures), r.total, strings.Join(r.failures, "\n"))
	}
	if len(r.banners) > 0 {
		t.Errorf("%d of %d requests reached the pod more than 200 ms after it accepted (its banner came first):\n%s",
			len(r.banners), r.total, strings.Join(r.banners, "\n"))
	}
	if s := f.Status(); s.Health != engine.HealthHealthy {
		t.Errorf("health %s (%s), want healthy", s.Health, s.HealthError)
	}
}

// mustTarget is s parsed as kpf parses a target (kinds.ParseTarget).
func mustTarget(s string) kinds.Target {
	t, err := kinds.ParseTarget(s)
	if err != nil {
		panic(err)
	}
	return t
}
