package engine

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TunnelTarget names the pod of a tunnel: what a restarted agent dials
// again before any connection asks for it, and serves on before its pod
// lists arrive (Restore).
type TunnelTarget struct {
	Clients   *Clients
	Namespace string
	Pod       string
	UID       types.UID
	// Labels are the pod's labels, Ports its named TCP container ports:
	// what a forward's selection and remote port need of a pod. Unknown
	// (the pod had left the sources' lists): both empty.
	Labels map[string]string
	Ports  map[string]int32
}

// earlyKey groups Restore's pods by what a pod source reads them through.
type earlyKey struct {
	clients   *Clients
	namespace string
}

// earlyFor is how long after Restore a starting pod source still takes
// its pods: a restarted agent's forwards start within it; a forward
// started later lists first, as any does.
const earlyFor = 10 * time.Second

// Tunnels lists the pods of the open tunnels (being dialed, draining or
// closed ones left out), in no particular order, each with the labels and
// ports a pod source listed for it.
func (e *Engine) Tunnels() []TunnelTarget {
	e.mu.Lock()
	ts := make([]*tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	srcs := make([]*podSource, 0, len(e.sources))
	for _, s := range e.sources {
		srcs = append(srcs, s)
	}
	e.mu.Unlock()
	out := make([]TunnelTarget, 0, len(ts))
	for _, t := range ts {
		if !t.isOpen() {
			continue
		}
		tt := TunnelTarget{Clients: t.key.clients, Namespace: t.key.namespace, Pod: t.key.pod.name, UID: t.key.pod.uid}
		for _, s := range srcs {
			if pod := s.listed(t.key); pod != nil {
				tt.Labels, tt.Ports = pod.Labels, namedPorts(pod)
				break
			}
		}
		out = append(out, tt)
	}
	return out
}

// namedPorts is pod's named TCP container ports.
func namedPorts(pod *corev1.Pod) map[string]int32 {
	var m map[string]int32
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name != "" && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
				if m == nil {
					m = map[string]int32{}
				}
				if _, ok := m[cp.Name]; !ok { // the first, as remotePort.resolve takes it
					m[cp.Name] = cp.ContainerPort
				}
			}
		}
	}
	return m
}

// pod is tt as a Ready pod with tt's labels and ports: all a pod source's
// selection and a forward's remote port read of one.
func (tt TunnelTarget) pod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: tt.Pod, Namespace: tt.Namespace, UID: tt.UID, Labels: tt.Labels},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	if len(tt.Ports) > 0 {
		var c corev1.Container
		for _, name := range slices.Sorted(maps.Keys(tt.Ports)) {
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: tt.Ports[name], Protocol: corev1.ProtocolTCP})
		}
		p.Spec.Containers = []corev1.Container{c}
	}
	return p
}

// Restore records the pods a restarted agent's predecessor had tunnels
// open to. A pod source that starts within earlyFor then does not wait
// for its first list: its forwards serve at once on those of the pods its
// selection matches (with the tunnels PreDial opens), and the list, when
// it arrives, takes over; a pod that is no longer there and Ready then
// has its tunnel closed. Pods of unknown labels match only pod/NAME
// targets. A later Restore replaces the pods of an earlier one.
func (e *Engine) Restore(tts []TunnelTarget) {
	early := map[earlyKey][]*corev1.Pod{}
	for _, tt := range tts {
		k := earlyKey{tt.Clients, tt.Namespace}
		early[k] = append(early[k], tt.pod())
	}
	for _, pods := range early {
		slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	e.mu.Lock()
	e.early, e.earlyUntil = early, e.opts.Now().Add(earlyFor)
	e.mu.Unlock()
}

// earlyPods is what Restore left for a source of res through c: the
// matching pods, while earlyFor lasts. e.mu is held.
func (e *Engine) earlyPods(c *Clients, res *resolved) []*corev1.Pod {
	if len(e.early) == 0 || e.opts.Now().After(e.earlyUntil) {
		e.early = nil
		return nil
	}
	var out []*corev1.Pod
	for _, p := range e.early[earlyKey{c, res.namespace}] {
		if res.matches(p) {
			out = append(out, p)
		}
	}
	return out
}

// PreDial dials a tunnel to tt's pod, unless one is open or being dialed,
// and returns once it is open or the dial failed. A connection of a forward
// that then picks that pod (same name and UID) finds the tunnel open
// instead of waiting for a TLS handshake and an upgrade through the API
// server: a restarted agent pre-dials the pods its predecessor had tunnels
// to while its forwards resolve their targets and list their pods. A pod
// that is gone fails the dial and costs no forward anything; an unused
// tunnel closes after IdleTimeout.
func (e *Engine) PreDial(ctx context.Context, tt TunnelTarget) error {
	key := tunnelKey{clients: tt.Clients, namespace: tt.Namespace, pod: podRef{name: tt.Pod, uid: tt.UID}}
	if _, dialed, err := e.tunnel(ctx, key); err != nil || !dialed {
		return err
	}
	e.log.Debug("pre-dialed a tunnel", "namespace", tt.Namespace, "pod", tt.Pod)
	return nil
}
