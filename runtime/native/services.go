package native

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// Service is the part of a Service that kpf init reads.
type Service struct {
	Name  string
	Ports []ServicePort
}

// ServicePort is one of a Service's TCP ports.
type ServicePort struct {
	Name string
	Port int
}

// ListServices reads the services of namespace in kubeContext through
// the API, with the engine's clients (no kubectl): their TCP ports, the
// services sorted by name. An empty list says whether the namespace exists.
func ListServices(ctx context.Context, kc *kubeconfig.Config, kubeContext, namespace string) ([]Service, error) {
	rc, err := kc.RESTConfig(kubeContext)
	if err != nil {
		return nil, err
	}
	c, err := engine.NewClients(rc)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", kubeContext, err)
	}
	list, err := c.API.ListServices(ctx, namespace)
	if err != nil {
		return nil, fmt.Errorf("listing services in %s/%s: %w", kubeContext, namespace, err)
	}
	if len(list.Items) == 0 {
		// An unknown namespace lists as empty: say which it is.
		switch exists, err := engine.NamespaceExists(ctx, c, namespace); {
		case err == nil && !exists:
			return nil, fmt.Errorf("namespace %q does not exist in context %q; nothing written", namespace, kubeContext)
		case err != nil:
			return nil, fmt.Errorf("namespace %q of context %q has no services (or does not exist: %w); nothing written", namespace, kubeContext, err)
		}
	}
	svcs := make([]Service, 0, len(list.Items))
	for _, it := range list.Items {
		s := Service{Name: it.Name}
		for _, p := range it.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue // a port-forward carries TCP only
			}
			s.Ports = append(s.Ports, ServicePort{Name: p.Name, Port: int(p.Port)})
		}
		if len(s.Ports) > 0 {
			svcs = append(svcs, s)
		}
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	return svcs, nil
}
