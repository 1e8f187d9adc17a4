//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/runtime/native/engine/enginetest"
)

// upgradeProxy passes requests to the local control plane's API server
// with its credentials, over HTTP/1.1 (so that upgrades pass), and counts
// the upgrades by kind. With refuseSPDY set it answers a SPDY upgrade
// itself, with that code: 400 and a Status, as an API server that no
// longer speaks SPDY would, or 200 and text, as a proxy that does not pass
// the upgrade on.
type upgradeProxy struct {
	url        string
	spdy, ws   atomic.Int32 // upgrade requests that reached the API server
	refused    atomic.Int32 // SPDY upgrades answered here
	refuseSPDY int
}

func newUpgradeProxy(t *testing.T, upstream *rest.Config, refuseSPDY int) *upgradeProxy {
	t.Helper()
	tlsConfig, err := rest.TLSConfigFor(upstream)
	if err != nil {
		t.Fatal(err)
	}
	// No ForceAttemptHTTP2: HTTP/1.1 only, which a SPDY upgrade needs.
	rt, err := rest.HTTPWrappersForConfig(upstream, &http.Transport{TLSClientConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	p := &upgradeProxy{refuseSPDY: refuseSPDY}
	target, err := http.NewRequest(http.MethodGet, upstream.Host, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target.URL)
			r.Out.Host = target.URL.Host
		},
		Transport: rt,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch up := strings.ToLower(r.Header.Get("Upgrade")); {
		case strings.HasPrefix(up, "spdy/"):
			switch p.refuseSPDY {
			case 0:
			case http.StatusOK:
				p.refused.Add(1)
				fmt.Fprintln(w, "hello from a proxy that drops upgrades")
				return
			default:
				p.refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(p.refuseSPDY)
				fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"SPDY is not supported here","code":%d}`, p.refuseSPDY)
				return
			}
			p.spdy.Add(1)
		case up == "websocket":
			p.ws.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// TestTunnelTransports dials real tunnels through the API server for each
// transport, and where a proxy refuses SPDY: auto dials SPDY alone where
// the API server accepts it; where SPDY is refused it goes over WebSocket
// (the forward serves), and the context's next tunnel (to another pod)
// goes WebSocket first without asking for SPDY again; websocket never
// asks for SPDY where the WebSocket upgrade works; spdy never asks for
// WebSocket, and fails where SPDY is refused.
func TestTunnelTransports(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := testContext(t)
	pods, err := testCluster.Pods(ctx, ns, "app=web")
	if err != nil || len(pods) < 2 {
		t.Fatalf("pods of web: %v %v", pods, err)
	}
	base, _, err := enginetest.LoadClients(testCluster.Kubeconfig, testCluster.Context)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		transport  engine.Transport
		refuseSPDY int // the proxy's answer to a SPDY upgrade; 0: it passes it on
		// upgrades the API server got over the two tunnels (one per pod),
		// and SPDY upgrades the proxy refused (fails: at least refused; the
		// engine dials again for a connection whose dial failed)
		spdy, ws, refused int32
		fails             bool
		over              string // the tunnel-open events' message
	}{
		{name: "auto", transport: engine.TransportAuto, spdy: 2, over: "over SPDY"},
		{name: "auto where SPDY is refused", transport: engine.TransportAuto, refuseSPDY: http.StatusBadRequest, ws: 2, refused: 1, over: "over WebSocket"},
		{name: "auto where the SPDY upgrade is dropped", transport: engine.TransportAuto, refuseSPDY: http.StatusOK, ws: 2, refused: 1, over: "over WebSocket"},
		{name: "websocket", transport: engine.TransportWebSocket, ws: 2, over: "over WebSocket"},
		{name: "websocket where SPDY is refused", transport: engine.TransportWebSocket, refuseSPDY: http.StatusBadRequest, ws: 2, over: "over WebSocket"},
		{name: "spdy", transport: engine.TransportSPDY, spdy: 2, over: "over SPDY"},
		{name: "spdy where SPDY is refused", transport: engine.TransportSPDY, refuseSPDY: http.StatusBadRequest, refused: 2, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newUpgradeProxy(t, base.Config, tt.refuseSPDY)
			c, err := engine.NewClients(&rest.Config{Host: p.url})
			if err != nil {
				t.Fatal(err)
			}
			c.Transport = tt.transport
			e, _ := newEngine(t, testCluster.Context, engine.Options{})
			for i, pod := range pods[:2] {
				f := startEngineForward(t, e, c, engine.Config{Name: fmt.Sprintf("web%d", i), Target: mustTarget("pod/" + pod), Namespace: ns, RemotePort: "http",
					Health: engine.HealthConfig{Kind: engine.HealthNone}})
				_, err := httpGetOnce(ctx, forwardPort(f), "/") // 5 s at most
				if tt.fails != (err != nil) {
					t.Fatalf("GET through the forward to %s: %v (want a failure: %v)", pod, err, tt.fails)
				}
				if tt.fails {
					continue
				}
				evs, _ := f.Events(0)
				if i := slices.IndexFunc(evs, func(ev engine.Event) bool { return ev.Kind == engine.EventTunnelOpen }); i < 0 || evs[i].Message != tt.over {
					t.Errorf("events of %s: %+v, want a tunnel-open %q", f.Name(), evs, tt.over)
				}
			}
			got := [3]int32{p.spdy.Load(), p.ws.Load(), p.refused.Load()}
			if tt.fails && got[2] >= tt.refused {
				got[2] = tt.refused
			}
			if got != [3]int32{tt.spdy, tt.ws, tt.refused} {
				t.Errorf("upgrades (SPDY, WebSocket, SPDY refused) = %v, want %v", got, [3]int32{tt.spdy, tt.ws, tt.refused})
			}
		})
	}
}
