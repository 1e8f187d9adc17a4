package engine

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
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

// TestRestoredPodsServeBeforeTheList: after Restore, a forward whose
// selection matches a restored pod starts and serves on it while its pod
// list is still on its way; when the list arrives, a restored pod it does
// not show Ready has its tunnel closed and the next connection goes to a
// listed pod. A forward matching no restored pod, or started after
// earlyFor, waits for its list as before.
func TestRestoredPodsServeBeforeTheList(t *testing.T) {
	restoredOf := func(p *corev1.Pod) TunnelTarget {
		return TunnelTarget{Namespace: p.Namespace, Pod: p.Name, UID: p.UID, Labels: p.Labels, Ports: namedPorts(p)}
	}
	tests := []struct {
		name     string
		cluster  []*corev1.Pod // what the list returns
		restored *corev1.Pod   // the pod Restore is given
		cfg      Config
		later    time.Duration // between Restore and the start
		early    bool          // the start does not wait for the list
		after    string        // the pod served once the list arrived
		closed   string        // why the restored pod's tunnel closed ("": it did not)
	}{
		{name: "the restored pod, still there", cluster: []*corev1.Pod{webPod("web-a")}, restored: webPod("web-a"),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, early: true, after: "web-a"},
		{name: "a pod/NAME target", cluster: []*corev1.Pod{webPod("web-a")}, restored: webPod("web-a"),
			cfg: Config{Target: tgt("pod/web-a"), RemotePort: "8080"}, early: true, after: "web-a"},
		{name: "the restored pod deleted while no agent ran", cluster: []*corev1.Pod{webPod("web-b")}, restored: webPod("web-a"),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, early: true, after: "web-b", closed: "pod gone while the agent was down"},
		{name: "the restored pod terminating", cluster: []*corev1.Pod{terminating(webPod("web-a")), webPod("web-b")}, restored: webPod("web-a"),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, early: true, after: "web-b", closed: "pod deleted while the agent was down"},
		{name: "the restored pod not Ready any more", cluster: []*corev1.Pod{notReady(webPod("web-a")), webPod("web-b")}, restored: webPod("web-a"),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, early: true, after: "web-b", closed: reasonNotReady},
		{name: "a selection the restored pod does not match", cluster: []*corev1.Pod{webPod("web-a")}, restored: readyPod("demo", "db-0", map[string]string{"app": "db"}),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, after: "web-a"},
		{name: "started after earlyFor", cluster: []*corev1.Pod{webPod("web-a")}, restored: webPod("web-a"),
			cfg: Config{Selector: webLabels, RemotePort: "http"}, later: earlyFor + time.Second, after: "web-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := make([]kruntime.Object, len(tt.cluster))
			for i, p := range tt.cluster {
				objs[i] = p
			}
			env := newTestEnv(t, Options{}, objs...)
			listed := make(chan struct{})
			env.kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
				<-listed
				return false, nil, nil // on to the fake's own list
			})
			rt := restoredOf(tt.restored)
			rt.Clients = env.c
			env.e.Restore([]TunnelTarget{rt})
			env.clock.Add(tt.later)
			tt.cfg.Name, tt.cfg.Address, tt.cfg.Namespace, tt.cfg.Health = "web", "127.0.0.1", "demo", HealthConfig{Kind: HealthNone}
			started := make(chan *Forward, 1)
			go func() {
				f, err := env.e.Start(context.Background(), env.c, tt.cfg)
				if err != nil {
					t.Error(err)
				}
				started <- f
			}()
			var f *Forward
			select {
			case f = <-started:
				if !tt.early {
					t.Fatal("the forward started before its pod list arrived")
				}
				if got := mustBanner(t, f); got != tt.restored.Name {
					t.Fatalf("before the list: served by %q, want the restored %s", got, tt.restored.Name)
				}
				close(listed)
			case <-time.After(200 * time.Millisecond):
				if tt.early {
					t.Fatal("the forward waits for its pod list")
				}
				close(listed)
				f = <-started
			}
			if f == nil {
				return
			}
			t.Cleanup(func() { _ = f.Stop() })
			eventually(t, "the list taken over", func() bool {
				got, err := banner(t, f)
				return err == nil && got == tt.after
			})
			// The open tunnels are the listed pod's, with what a restarted
			// agent needs of it; the restored pod's, if it is not that one,
			// closed.
			eventually(t, "only "+tt.after+"'s tunnel open", func() bool {
				open := env.e.Tunnels()
				return len(open) == 1 && open[0].Pod == tt.after
			})
			open := env.e.Tunnels()[0]
			if !maps.Equal(open.Labels, webLabels) || !maps.Equal(open.Ports, map[string]int32{"http": 8080}) {
				t.Errorf("tunnel of %s: labels %v, ports %v; want %v and http 8080", open.Pod, open.Labels, open.Ports, webLabels)
			}
			if tt.closed != "" {
				eventually(t, tt.restored.Name+"'s tunnel closed as "+tt.closed, func() bool {
					evs, _ := f.Events(0)
					return slices.ContainsFunc(evs, func(ev Event) bool {
						return ev.Kind == EventTunnelClose && ev.Pod == tt.restored.Name && ev.Message == tt.closed
					})
				})
			}
		})
	}
}

// TestRestoredPodTargetWithListForbidden: a restored pod/NAME forward
// whose pod list is refused serves on at once, then reads its pod per
// connection, as one that is not restored does.
func TestRestoredPodTargetWithListForbidden(t *testing.T) {
	pod := webPod("web-a")
	env := newTestEnv(t, Options{}, pod)
	env.kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("no list"))
	})
	env.e.Restore([]TunnelTarget{{Clients: env.c, Namespace: "demo", Pod: "web-a", UID: pod.UID, Labels: pod.Labels}})
	f := env.start(Config{Target: tgt("pod/web-a"), RemotePort: "8080", Health: HealthConfig{Kind: HealthNone}})
	eventually(t, "list-only mode", func() bool {
		f.src.mu.Lock()
		defer f.src.mu.Unlock()
		return f.src.listOnly && f.src.early == nil
	})
	if got := mustBanner(t, f); got != "web-a" {
		t.Errorf("reading the pod per connection: served by %q, want web-a", got)
	}
}
