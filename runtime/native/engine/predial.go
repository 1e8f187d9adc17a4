package engine

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
)

// TunnelTarget names the pod of a tunnel: what a restarted agent dials
// again before any connection asks for it.
type TunnelTarget struct {
	Clients   *Clients
	Namespace string
	Pod       string
	UID       types.UID
}

// Tunnels lists the pods of the open tunnels (being dialed, draining or
// closed ones left out), in no particular order.
func (e *Engine) Tunnels() []TunnelTarget {
	e.mu.Lock()
	ts := make([]*tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	e.mu.Unlock()
	out := make([]TunnelTarget, 0, len(ts))
	for _, t := range ts {
		if t.isOpen() {
			out = append(out, TunnelTarget{Clients: t.key.clients, Namespace: t.key.namespace, Pod: t.key.pod.name, UID: t.key.pod.uid})
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
