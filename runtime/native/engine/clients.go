package engine

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
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

// LoadClients loads a kubeconfig as kubectl does (kubeconfig is a path, or
// a list in KUBECONFIG's syntax; empty: $KUBECONFIG, then ~/.kube/config)
// for kubeContext (empty: the current context), and returns its Clients and
// the context's namespace ("default" when it names none). An unknown
// context is permanent.
func LoadClients(path, kubeContext string) (*Clients, string, error) {
	src := kubeconfig.Source{Env: path, Home: os.Getenv("HOME")}
	if path == "" {
		src.Env = os.Getenv("KUBECONFIG")
	}
	kc, err := kubeconfig.Load(src)
	if err != nil {
		return nil, "", err
	}
	name := kubeContext
	if name == "" {
		name = kc.CurrentContext()
	}
	cfg, err := kc.RESTConfig(name)
	if err != nil {
		if errors.Is(err, kubeconfig.ErrUnknownContext) {
			err = fmt.Errorf("%w: %w", err, runtime.ErrPermanent)
		}
		return nil, "", err
	}
	ns := kc.Namespaces()[name]
	if ns == "" {
		ns = "default"
	}
	c, err := NewClients(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}
