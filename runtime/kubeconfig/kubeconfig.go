package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Source says where the kubeconfig comes from, as kubectl decides it.
type Source struct {
	// Explicit is --kubeconfig; when set, only that file is read.
	Explicit string
	// Env is $KUBECONFIG: a list of files merged in order.
	Env string
	// Home is $HOME, for ~/.kube/config when neither is set.
	Home string
}

// Files are the files the source names, in precedence order.
func (s Source) Files() []string {
	switch {
	case s.Explicit != "":
		return []string{s.Explicit}
	case s.Env != "":
		var out []string
		for _, p := range filepath.SplitList(s.Env) {
			if p != "" {
				out = append(out, p)
			}
		}
		return out
	case s.Home != "":
		return []string{filepath.Join(s.Home, ".kube", "config")}
	}
	return nil
}

// origin says where the files of s come from, for messages.
func (s Source) origin() string {
	switch {
	case s.Explicit != "":
		return "--kubeconfig"
	case s.Env != "":
		return "KUBECONFIG"
	}
	return "the default"
}

// NoContexts says, in one line, why a kubeconfig loaded from s has no
// contexts, naming its files: none of them exists ("no such file", the
// usual case of a KUBECONFIG that names a file that is not there), or those
// that exist define none.
func (s Source) NoContexts() string {
	files := s.Files()
	var read, missing []string
	for _, p := range files {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
		} else {
			read = append(read, p)
		}
	}
	switch {
	case len(files) == 0:
		return "no kubeconfig: KUBECONFIG is empty and there is no home directory"
	case len(read) == 0:
		return fmt.Sprintf("no kubeconfig: no such file %s (from %s)", strings.Join(missing, ", "), s.origin())
	case len(missing) == 0:
		return fmt.Sprintf("the kubeconfig has no contexts (read: %s)", strings.Join(read, ", "))
	}
	return fmt.Sprintf("the kubeconfig has no contexts (read: %s; no such file: %s)", strings.Join(read, ", "), strings.Join(missing, ", "))
}

func (s Source) rules() *clientcmd.ClientConfigLoadingRules {
	if s.Explicit != "" {
		return &clientcmd.ClientConfigLoadingRules{ExplicitPath: s.Explicit}
	}
	return &clientcmd.ClientConfigLoadingRules{Precedence: s.Files()}
}

// Config is a loaded kubeconfig.
type Config struct {
	source Source
	raw    *clientcmdapi.Config
}

// Load reads and merges the kubeconfig files of s. A missing file of a
// $KUBECONFIG list is skipped (as kubectl does); a missing --kubeconfig is
// an error.
func Load(s Source) (*Config, error) {
	if s.Explicit != "" {
		if _, err := os.Stat(s.Explicit); err != nil {
			return nil, fmt.Errorf("reading kubeconfig: %w", err)
		}
	}
	raw, err := s.rules().Load()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	return &Config{source: s, raw: raw}, nil
}

// CurrentContext is the kubeconfig's current-context ("" when unset).
func (c *Config) CurrentContext() string { return c.raw.CurrentContext }

// Namespaces maps every context to its namespace ("" when it sets none).
func (c *Config) Namespaces() map[string]string {
	m := make(map[string]string, len(c.raw.Contexts))
	for name, ctx := range c.raw.Contexts {
		ns := ""
		if ctx != nil {
			ns = ctx.Namespace
		}
		m[name] = ns
	}
	return m
}

// Contexts lists the context names, sorted.
func (c *Config) Contexts() []string {
	names := make([]string, 0, len(c.raw.Contexts))
	for name := range c.raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ErrUnknownContext is wrapped by RESTConfig for a context the kubeconfig
// does not define.
var ErrUnknownContext = errors.New("context not in the kubeconfig")

// RESTConfig builds the client configuration of context name: server,
// credentials (exec plugins run when a request first needs them), TLS.
func (c *Config) RESTConfig(name string) (*rest.Config, error) {
	if _, ok := c.raw.Contexts[name]; !ok {
		return nil, fmt.Errorf("context %q (known: %s): %w", name, strings.Join(c.Contexts(), ", "), ErrUnknownContext)
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*c.raw, name, &clientcmd.ConfigOverrides{}, c.source.rules())
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	return rc, nil
}
