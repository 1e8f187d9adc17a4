package enginetest

import (
	"errors"
	"os"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// LoadClients loads a kubeconfig as kubectl does (kubeconfig is a path, or
// a list in KUBECONFIG's syntax; empty: $KUBECONFIG, then ~/.kube/config)
// for kubeContext (empty: the current context), and returns its Clients and
// the context's namespace ("default" when it names none). An unknown
// context is permanent.
func LoadClients(path, kubeContext string) (*engine.Clients, string, error) {
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
			err = runtime.Permanent(err)
		}
		return nil, "", err
	}
	ns := kc.Namespaces()[name]
	if ns == "" {
		ns = "default"
	}
	c, err := engine.NewClients(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}
