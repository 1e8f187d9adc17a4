package engine

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Clients is what the engine talks to one kube context with: its rest
// config (for port-forward upgrades) and a clientset (for reading targets
// and watching pods). Build one per context and share it between that
// context's forwards: informers and tunnels are shared per *Clients, and an
// exec credential plugin then runs once.
type Clients struct {
	Config *rest.Config
	Kube   kubernetes.Interface
	// ForceSPDY skips the WebSocket upgrade and dials SPDY directly (for
	// servers or proxies where the WebSocket attempt is known to fail). The
	// engine-wide Options.ForceSPDY forces it for every context.
	ForceSPDY bool
}

// NewClients copies cfg, disables client-go's client-side rate limit (the
// default QPS 5, burst 10 made 100 starts take 38 s; the API server's own
// priority and fairness still applies) and builds a clientset.
func NewClients(cfg *rest.Config) (*Clients, error) {
	if cfg == nil {
		return nil, fmt.Errorf("no rest config")
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1 // negative: no client-side rate limiter at all
	cfg.Burst = 0
	cfg.RateLimiter = nil
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a Kubernetes client: %w", err)
	}
	return &Clients{Config: cfg, Kube: kube}, nil
}
