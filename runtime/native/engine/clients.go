package engine

import (
	"fmt"
	"path/filepath"

	"github.com/kpf-dev/kpf/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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
func LoadClients(kubeconfig, kubeContext string) (*Clients, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = ""
		rules.Precedence = filepath.SplitList(kubeconfig)
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	name := kubeContext
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok {
		return nil, "", fmt.Errorf("kube context %q not found in the kubeconfig: %w", name, runtime.ErrPermanent)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsConfigurationInvalid(err) {
			return nil, "", fmt.Errorf("kube context %q: %w: %w", kubeContext, err, runtime.ErrPermanent)
		}
		return nil, "", fmt.Errorf("kube context %q: %w", kubeContext, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kube context %q: namespace: %w", kubeContext, err)
	}
	c, err := NewClients(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}
