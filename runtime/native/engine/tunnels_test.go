package engine

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestPreDial(t *testing.T) {
	tests := []struct {
		name      string
		gone      bool // the pod's dial fails (deleted while no agent ran)
		wantErr   bool
		wantDials int64 // after the forward's first connection
	}{
		{name: "the first connection uses the pre-dialed tunnel", wantDials: 1},
		{name: "a pod that is gone fails the pre-dial and costs nothing", gone: true, wantErr: true, wantDials: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var changed atomic.Int64
			pod := webPod("web-a")
			env := newTestEnv(t, Options{TunnelsChanged: func() { changed.Add(1) }}, pod)
			if tt.gone {
				env.dialer.failDialsTo("web-a", apierrors.NewNotFound(corev1.Resource("pods"), "web-a"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := env.e.PreDial(ctx, TunnelTarget{Clients: env.c, Namespace: "demo", Pod: "web-a", UID: pod.UID})
			if (err != nil) != tt.wantErr {
				t.Fatalf("PreDial: %v, want error %v", err, tt.wantErr)
			}
			open := env.e.Tunnels()
			if tt.gone {
				if len(open) != 0 || changed.Load() != 0 {
					t.Fatalf("after a failed pre-dial: tunnels %+v, %d changes; want none", open, changed.Load())
				}
				env.dialer.failDialsTo("web-a", nil)
			} else if len(open) != 1 || open[0].Pod != "web-a" || open[0].UID != pod.UID || open[0].Clients != env.c || changed.Load() != 1 {
				t.Fatalf("after a pre-dial: tunnels %+v, %d changes; want web-a's, 1 change", open, changed.Load())
			}
			f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
			if got := mustBanner(t, f); got != "web-a" {
				t.Fatalf("banner %q", got)
			}
			if n := env.dialer.dials.Load(); n != tt.wantDials {
				t.Errorf("%d dials, want %d", n, tt.wantDials)
			}
			// A second pre-dial of an open tunnel dials nothing.
			if err := env.e.PreDial(ctx, TunnelTarget{Clients: env.c, Namespace: "demo", Pod: "web-a", UID: pod.UID}); err != nil {
				t.Fatal(err)
			}
			if n := env.dialer.dials.Load(); n != tt.wantDials {
				t.Errorf("%d dials after pre-dialing an open tunnel, want %d", n, tt.wantDials)
			}
		})
	}
}

// TestStreamCreationsOnATunnelAreQueued: a burst of connections on one
// forward asks the node for at most maxCreating stream pairs at a time;
// every connection is served, through the one tunnel (none timed out and
// closed it).
func TestStreamCreationsOnATunnelAreQueued(t *testing.T) {
	env := newTestEnv(t, Options{}, webPod("web-a"))
	env.dialer.replyDelay = 20 * time.Millisecond
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	const conns = 3 * maxCreating
	got := make(chan string, conns)
	for range conns {
		go func() {
			c, err := net.DialTimeout("tcp", f.Addr().String(), 5*time.Second)
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				got <- err.Error()
				return
			}
			got <- strings.TrimSpace(line)
		}()
	}
	for range conns {
		if b := <-got; b != "web-a" {
			t.Fatalf("a connection of the burst: %q, want web-a's banner", b)
		}
	}
	// Each connection asks for its two streams at once.
	if n := env.dialer.maxCreating.Load(); n > 2*maxCreating {
		t.Errorf("%d stream creations in flight at once, want at most %d", n, 2*maxCreating)
	}
	if n := env.dialer.dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1: the burst must not close the tunnel", n)
	}
}
