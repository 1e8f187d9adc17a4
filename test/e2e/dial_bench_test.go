//go:build linux

package e2e

import (
	"testing"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/runtime/native/engine/enginetest"
)

// BenchmarkKubeDialerDial is one tunnel to a pod as the engine dials it
// (the API server's portforward subresource, upgraded; kwok on the other
// side), then closed: the part of a new pod's first connection that kpf
// adds. Run: go test ./test/e2e -run '^$' -bench KubeDialer -benchtime 50x
func BenchmarkKubeDialerDial(b *testing.B) {
	ns := newNamespace(b)
	pods, err := testCluster.Pods(testContext(b), ns, "app=web")
	if err != nil || len(pods) == 0 {
		b.Fatalf("pods of web: %v %v", pods, err)
	}
	c, _, err := enginetest.LoadClients(testCluster.Kubeconfig, testCluster.Context)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		transport engine.Transport
	}{{"websocket", engine.TransportWebSocket}, {"spdy", engine.TransportSPDY}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := testContext(b)
			for b.Loop() {
				conn, err := engine.KubeDialer{}.Dial(ctx, c, ns, pods[0], tc.transport)
				if err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
		})
	}
}

// BenchmarkEngineNewConnection is one new local connection through a
// native forward whose tunnel is open: an HTTP GET on a fresh TCP
// connection, answered by the pod (a stream pair through the tunnel per
// connection).
func BenchmarkEngineNewConnection(b *testing.B) {
	ns := newNamespace(b)
	e, c := newEngine(b, testCluster.Context, engine.Options{})
	f := startEngineForward(b, e, c, engine.Config{Target: kinds.Target{Kind: kinds.Deployment, Name: "api"}, Namespace: ns, RemotePort: "8080",
		Health: engine.HealthConfig{Kind: engine.HealthNone}})
	ctx := testContext(b)
	port := forwardPort(f)
	if _, err := httpGetOnce(ctx, port, "/"); err != nil { // the tunnel is open from here on
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := httpGetOnce(ctx, port, "/"); err != nil {
			b.Fatal(err)
		}
	}
}
