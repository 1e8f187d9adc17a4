package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/spec"
)

// contextResolver gives every forward an explicit context and namespace.
//
// A forward without a context is pinned to kubectl's current context the
// first time it is needed, and stays pinned for the life of the command: a
// context switch made in another terminal while `apply --watch` runs never
// moves a forward. A forward without a namespace gets its context's
// namespace ("default" when it sets none). The kubeconfig is read again only
// when one of its files changed, so an idle watch spawns no kubectl.
type contextResolver struct {
	rt         *kubectl.Runtime
	kubeconfig string // --kubeconfig, passed to kubectl; "" = kubectl finds it
	envConfig  string // $KUBECONFIG (a list of files), which kubectl inherits
	home       string
	log        hclog.Logger

	current    string
	namespaces map[string]string
	stamp      string
}

func (a *app) newContextResolver(rt *kubectl.Runtime) *contextResolver {
	return &contextResolver{rt: rt, kubeconfig: a.opts.Kubeconfig, envConfig: a.getenv("KUBECONFIG"), home: a.getenv("HOME"), log: a.log}
}

// resolve returns copies of fs with contexts and namespaces set, or an error
// naming every enabled forward whose context the kubeconfig does not have.
func (r *contextResolver) resolve(ctx context.Context, fs []spec.Forward) ([]spec.Forward, error) {
	if r.current == "" && needsCurrentContext(fs) {
		current, err := r.rt.CurrentContext(ctx, r.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("some forwards set no context and kubectl has no current context: %w", err)
		}
		r.current = current
		r.log.Info("forwards without a context are pinned to the current context", "context", current)
	}
	if err := r.loadNamespaces(ctx); err != nil {
		return nil, err
	}
	out := reconcile.ResolveContexts(fs, r.current)
	var errs []error
	for i := range out {
		f := &out[i]
		ns, known := r.namespaces[f.Context]
		if f.Enabled && !known {
			errs = append(errs, fmt.Errorf("%s: forward %q: context %q is not in the kubeconfig", f.Decl, f.Name, f.Context))
		}
		if f.Namespace == "" {
			f.Namespace = ns
			if f.Namespace == "" {
				f.Namespace = "default"
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// loadNamespaces reads the contexts' namespaces unless the kubeconfig files
// are unchanged since the last read.
func (r *contextResolver) loadNamespaces(ctx context.Context) error {
	stamp := r.kubeconfigStamp()
	if r.namespaces != nil && stamp != "" && stamp == r.stamp {
		return nil
	}
	namespaces, err := r.rt.ContextNamespaces(ctx, r.kubeconfig)
	if err != nil {
		return fmt.Errorf("reading the kubeconfig's contexts: %w", err)
	}
	r.namespaces, r.stamp = namespaces, stamp
	return nil
}

// kubeconfigStamp identifies the content of the kubeconfig files (the way
// kubectl finds them: --kubeconfig, else every file of $KUBECONFIG, else
// ~/.kube/config) by path, size and modification time; "" when it cannot
// tell (then every resolve reads the kubeconfig again).
func (r *contextResolver) kubeconfigStamp() string {
	paths := []string{r.kubeconfig}
	if r.kubeconfig == "" {
		paths = filepath.SplitList(r.envConfig)
	}
	if len(paths) == 0 {
		if r.home == "" {
			return ""
		}
		paths = []string{filepath.Join(r.home, ".kube", "config")}
	}
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s:absent;", p)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

func needsCurrentContext(fs []spec.Forward) bool {
	for _, f := range fs {
		if f.Enabled && f.Context == "" {
			return true
		}
	}
	return false
}
