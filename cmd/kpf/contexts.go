package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/spec"
)

// contextResolver gives every forward an explicit context and namespace.
//
// A forward without a context is pinned to the kubeconfig's current context
// the first time it is needed, and stays pinned for the life of the
// command: a context switch made in another terminal while `apply --watch`
// runs never moves a forward. A forward without a namespace gets its
// context's namespace ("default" when it sets none). The kubeconfig is read
// in-process (no kubectl), and again only when one of its files changed.
type contextResolver struct {
	source kubeconfig.Source
	log    hclog.Logger

	config  *kubeconfig.Config
	current string
	stamp   string
	loads   int // kubeconfig reads, for tests and stats
	// pending is a read started by preload that no load has taken yet.
	pending *kubeconfigRead
}

// kubeconfigRead is one read of the kubeconfig on another goroutine; its
// fields are set when done is closed.
type kubeconfigRead struct {
	done   chan struct{}
	stamp  string
	config *kubeconfig.Config
	err    error
}

func (a *app) newContextResolver() *contextResolver {
	return &contextResolver{source: a.kubeconfigSource(), log: a.log}
}

// kubeconfigSource says where kubectl would read the kubeconfig from.
func (a *app) kubeconfigSource() kubeconfig.Source {
	return kubeconfig.Source{Explicit: a.opts.Kubeconfig, Env: a.getenv("KUBECONFIG"), Home: a.getenv("HOME")}
}

// resolve returns copies of fs with contexts and namespaces set, or an error
// naming every enabled forward whose context the kubeconfig does not have.
func (r *contextResolver) resolve(ctx context.Context, fs []spec.Forward) ([]spec.Forward, error) {
	out, unknown, err := r.resolveAll(ctx, fs)
	if err != nil || len(unknown) == 0 {
		return out, err
	}
	// One error per unknown context, in spec order.
	var order []string
	byContext := map[string][]*spec.Forward{}
	for _, i := range unknown {
		f := &out[i]
		if _, seen := byContext[f.Context]; !seen {
			order = append(order, f.Context)
		}
		byContext[f.Context] = append(byContext[f.Context], f)
	}
	errs := make([]error, 0, len(order))
	for _, c := range order {
		list := byContext[c]
		f := list[0]
		who := fmt.Sprintf("forward %q", f.Name)
		if len(list) > 1 {
			who = fmt.Sprintf("forward %q and %d more", f.Name, len(list)-1)
		}
		errs = append(errs, fmt.Errorf("%s: %s: context %q is not in the kubeconfig%s", f.Decl, who, c, contextHint(c, r.config.Contexts())))
	}
	return nil, errors.Join(errs...)
}

// resolveEach is resolve that fails forward by forward: it returns every
// forward of fs resolved (those whose context the kubeconfig does not have
// keep it as written) and, for each enabled forward whose context is
// unknown, its error, in spec order. err is for what fails them all: an
// unreadable kubeconfig, one without contexts, or no current context where
// one is needed.
func (r *contextResolver) resolveEach(ctx context.Context, fs []spec.Forward) (out []spec.Forward, bad []reconcile.ForwardError, err error) {
	out, unknown, err := r.resolveAll(ctx, fs)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range unknown {
		f := &out[i]
		bad = append(bad, reconcile.ForwardError{Name: f.Name, Error: fmt.Sprintf("%s: forward %q: context %q is not in the kubeconfig%s",
			f.Decl, f.Name, f.Context, contextHint(f.Context, r.config.Contexts()))})
	}
	return out, bad, nil
}

// resolveAll resolves fs and returns the indexes of the enabled forwards
// whose context the kubeconfig does not have.
func (r *contextResolver) resolveAll(ctx context.Context, fs []spec.Forward) ([]spec.Forward, []int, error) {
	if err := r.load(ctx); err != nil {
		return nil, nil, err
	}
	if r.current == "" && needsCurrentContext(fs) {
		current := r.config.CurrentContext()
		if current == "" && len(r.config.Contexts()) == 0 {
			return nil, nil, fmt.Errorf("%s; point --kubeconfig or KUBECONFIG at one", r.source.NoContexts())
		}
		if current == "" {
			return nil, nil, errors.New("some forwards set no context and the kubeconfig has no current context: set `context` in the spec (or `defaults`)")
		}
		r.current = current
		r.log.Info("forwards without a context are pinned to the current context", "context", current)
	}
	namespaces := r.config.Namespaces()
	out := reconcile.ResolveContexts(fs, r.current)
	var unknown []int
	for i := range out {
		f := &out[i]
		ns, known := namespaces[f.Context]
		if f.Enabled && !known {
			unknown = append(unknown, i)
		}
		if f.Namespace == "" {
			f.Namespace = ns
			if f.Namespace == "" {
				f.Namespace = "default"
			}
		}
	}
	if len(unknown) > 0 && len(namespaces) == 0 {
		return nil, nil, fmt.Errorf("%s; point --kubeconfig or KUBECONFIG at one", r.source.NoContexts())
	}
	return out, unknown, nil
}

// preload starts reading the kubeconfig on another goroutine, for the
// next load to take (openSession reads it while the spec loads). Its
// errors are that load's: a command that fails before it resolves a
// context never shows them. A read that blocks (a FIFO named as the
// kubeconfig) blocks only that load, which ctx can cancel.
func (r *contextResolver) preload() {
	read := &kubeconfigRead{done: make(chan struct{})}
	r.pending = read
	go func() {
		defer close(read.done)
		read.stamp = r.kubeconfigStamp()
		read.config, read.err = kubeconfig.Load(r.source)
	}()
}

// load reads the kubeconfig unless its files are unchanged since the last
// read. A preloaded read is taken when the files are still the ones it
// read.
func (r *contextResolver) load(ctx context.Context) error {
	stamp := r.kubeconfigStamp()
	if read := r.pending; read != nil {
		r.pending = nil
		select {
		case <-read.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if read.stamp == stamp {
			if read.err != nil {
				return read.err
			}
			r.config, r.stamp = read.config, stamp
			r.loads++
			return nil
		}
	}
	if r.config != nil && stamp != "" && stamp == r.stamp {
		return nil
	}
	c, err := kubeconfig.Load(r.source)
	if err != nil {
		return err
	}
	r.config, r.stamp = c, stamp
	r.loads++
	return nil
}

// contextHint suggests the closest known context (" (did you mean
// "kind-dev"?)") and lists the known ones.
func contextHint(name string, known []string) string {
	if len(known) == 0 {
		return " (the kubeconfig has no contexts)"
	}
	best, bestDist := "", len(name)/2+2
	for _, k := range known {
		if d := levenshtein.Distance(strings.ToLower(name), strings.ToLower(k), nil); d < bestDist {
			best, bestDist = k, d
		}
	}
	list := strings.Join(known, ", ")
	if len(known) > 8 {
		list = strings.Join(known[:8], ", ") + fmt.Sprintf(", … (%d in all)", len(known))
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q? contexts: %s)", best, list)
	}
	return " (contexts: " + list + ")"
}

// kubeconfigStamp identifies the content of the kubeconfig files (the way
// kubectl finds them: --kubeconfig, else every file of $KUBECONFIG, else
// ~/.kube/config) by path, size and modification time; "" when it cannot
// tell (then every resolve reads the kubeconfig again).
func (r *contextResolver) kubeconfigStamp() string {
	paths := r.source.Files()
	if len(paths) == 0 {
		return ""
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
