//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// A local client that sends a lot through a forward and never reads the
// pod's answer must not hold up another connection to the same pod.
// spdystream hands every stream's frames to one of five workers per
// tunnel and blocks the worker until the stream is read; without a
// per-connection buffer the stalled copy stopped the tunnel's read loop,
// and every connection through it waited (on both transports). Here one
// client sends 64 MiB to the echo and never reads its echo, while a second
// connection to the same pod keeps making HTTP round trips: every one must
// be answered, none later than a generous bound, and the stalled one is
// reset (an event says why). Not parallel: the parallel tests' load could
// delay a round trip past the bound too.
func TestEngineStalledReaderDoesNotBlockTheTunnel(t *testing.T) {
	ns := newEmptyNamespace(t)
	ctx := testContext(t)
	if err := testCluster.DeployEcho(ctx, ns, "echo", 1); err != nil {
		t.Fatal(err)
	}
	const (
		stallMiB = 64
		bound    = 2 * time.Second // generous: a round trip takes a few ms, the stall limit is 250 ms
		during   = 4 * time.Second
	)
	for _, tt := range []struct {
		name      string
		transport engine.Transport
	}{{"websocket", engine.TransportWebSocket}, {"spdy", engine.TransportSPDY}} {
		t.Run(tt.name, func(t *testing.T) {
			e, c := newEngine(t, testCluster.Context, engine.Options{})
			c.Transport = tt.transport
			f := startEngineForward(t, e, c, engine.Config{Target: mustTarget("service/echo"), Namespace: ns, RemotePort: "http"})
			port := forwardPort(f)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			httpGetRetry(t, port, "/", 10*time.Second)

			// The connection that keeps making round trips, opened first so
			// that both share the tunnel.
			rt, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			br := bufio.NewReader(rt)
			roundTrip := func() (time.Duration, error) {
				t0 := time.Now()
				_ = rt.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(rt, "GET / HTTP/1.1\r\nHost: echo\r\n\r\n"); err != nil {
					return 0, err
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return 0, err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return time.Since(t0), err
			}
			if _, err := roundTrip(); err != nil {
				t.Fatalf("first round trip: %v", err)
			}

			// The stalled reader: greeted by the echo, then it sends and
			// never reads.
			stall, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer stall.Close()
			_ = stall.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := bufio.NewReader(stall).ReadString('\n'); err != nil {
				t.Fatalf("the stalled reader got no greeting: %v", err)
			}
			stallStart := time.Now()
			sendDone := make(chan struct{})
			go func() {
				defer close(sendDone)
				buf := make([]byte, 256<<10)
				_ = stall.SetWriteDeadline(time.Now().Add(time.Minute))
				for sent := 0; sent < stallMiB<<20; sent += len(buf) {
					if _, err := stall.Write(buf); err != nil {
						return
					}
				}
			}()

			var n int
			var slow []string
			var slowest time.Duration
			for end := time.Now().Add(during); time.Now().Before(end); n++ {
				d, err := roundTrip()
				if err != nil {
					t.Fatalf("round trip %d beside the stalled reader: %v", n, err)
				}
				slowest = max(slowest, d)
				if d > bound {
					slow = append(slow, fmt.Sprintf("round trip %d took %s (ended %s after the stalled reader began)", n, d.Round(time.Millisecond), time.Since(stallStart).Round(time.Millisecond)))
				}
			}
			t.Logf("%d round trips beside a stalled reader", n)
			if len(slow) > 0 {
				t.Errorf("%d of %d round trips took over %s beside a stalled reader:\n%s", len(slow), n, bound, strings.Join(slow, "\n"))
			}
			t.Logf("slowest round trip beside a stalled reader: %s", slowest.Round(time.Millisecond))
			// The stalled connection was reset, and counted.
			stall.Close()
			<-sendDone
			if s := f.Status(); s.Stalled != 1 {
				t.Errorf("status counts %d connections reset for not reading, want 1", s.Stalled)
			}
			var found bool
			evs, _ := f.Events(0)
			for _, ev := range evs {
				if ev.Kind == engine.EventConnClosed && strings.Contains(ev.Message, "stopped reading") {
					found = true
				}
			}
			if !found {
				t.Errorf("no event says the stalled connection was reset: %v", evs)
			}
		})
	}
}
