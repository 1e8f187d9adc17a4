package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Target kinds (internal/kinds: one table for spec and the engine).
const (
	KindService     = kinds.Service
	KindPod         = kinds.Pod
	KindDeployment  = kinds.Deployment
	KindStatefulSet = kinds.StatefulSet
)

// checkTarget refuses a target the engine cannot serve: an unknown kind
// (the callers parse targets with kinds.ParseTarget, which makes none; a
// Config built by hand might) or no name. Both are permanent.
func checkTarget(t kinds.Target) error {
	if kinds.Normal(t.Kind) != t.Kind || t.Kind == "" {
		return runtime.Permanent(fmt.Errorf("target %q: unknown kind %q (want service, pod, deployment or statefulset)", t.String(), t.Kind))
	}
	if t.Name == "" || strings.Contains(t.Name, "/") {
		return runtime.Permanent(fmt.Errorf("target %q: want TYPE/NAME", t.String()))
	}
	return nil
}

// remotePort is a port on the pod side: a number, or a container port name
// looked up in the chosen pod.
type remotePort struct {
	number int32
	name   string
}

func (p remotePort) String() string {
	if p.name != "" {
		return p.name
	}
	return strconv.Itoa(int(p.number))
}

func parseRemotePort(s string) (remotePort, error) {
	if s == "" {
		return remotePort{}, runtime.Permanent(fmt.Errorf("remote port is empty"))
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return remotePort{}, runtime.Permanent(fmt.Errorf("remote port %d out of range", n))
		}
		return remotePort{number: int32(n)}, nil
	}
	return remotePort{name: s}, nil
}

// resolve returns the port number on pod: the number itself, or the
// containerPort named p.name in any of the pod's containers.
func (p remotePort) resolve(pod *corev1.Pod) (int32, error) {
	if p.name == "" {
		return p.number, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == p.name && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no container port named %q", pod.Name, p.name)
}

// resolved is a target turned into what the engine serves: which pods
// (namespace, label selector and, for pod/NAME, a field selector on the
// name) and which port on each.
type resolved struct {
	namespace string
	selector  labels.Selector // never nil; Everything() for pod/NAME
	podName   string          // pod/NAME targets only
	port      remotePort
	// describe is what the target looks like in messages.
	describe string
}

// key identifies the pod set; forwards with equal keys share a pod source.
func (r *resolved) key() string {
	if r.podName != "" {
		return "pod=" + r.podName
	}
	return "sel=" + r.selector.String()
}

// listOptions selects r's pods on the server.
func (r *resolved) listOptions() metav1.ListOptions {
	o := metav1.ListOptions{}
	if r.podName != "" {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", r.podName).String()
	} else {
		o.LabelSelector = r.selector.String()
	}
	return o
}

// matches reports whether pod belongs to r's pod set (servers and fakes do
// not all filter watch events).
func (r *resolved) matches(pod *corev1.Pod) bool {
	if pod.Namespace != r.namespace {
		return false
	}
	if r.podName != "" {
		return pod.Name == r.podName
	}
	return r.selector.Matches(labels.Set(pod.Labels))
}

// classify wraps an API error: NotFound, Forbidden, Unauthorized and
// invalid requests are permanent, everything else is worth retrying.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsUnauthorized(err),
		apierrors.IsBadRequest(err), apierrors.IsInvalid(err), apierrors.IsMethodNotSupported(err):
		return runtime.Permanent(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// readAs reads one object through c's batcher (get, or a shared list).
func readAs[T any](ctx context.Context, c *Clients, ns, kind, name string,
	get func(context.Context) (any, error), list func(context.Context) (map[string]any, error)) (T, error) {
	var zero T
	obj, err := c.batch.read(ctx, ns, kind, name, get, list)
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("reading %s %s/%s: unexpected %T", kind, ns, name, obj)
	}
	return t, nil
}

// readKind reads the object kind/name in ns through c's batch (get it, or
// list the namespace's: items indexes a list by name), its error
// classified.
func readKind[T, L any](ctx context.Context, c *Clients, ns, kind, name string,
	get func(ctx context.Context, ns, name string) (T, error),
	list func(ctx context.Context, ns string) (L, error), items func(L) map[string]any) (T, error) {
	obj, err := readAs[T](ctx, c, ns, kind, name,
		func(ctx context.Context) (any, error) { return get(ctx, ns, name) },
		func(ctx context.Context) (map[string]any, error) {
			l, err := list(ctx, ns)
			if err != nil {
				return nil, err
			}
			return items(l), nil
		})
	if err != nil {
		return obj, classify(err, "reading "+kind+" "+ns+"/"+name)
	}
	return obj, nil
}

// byName indexes a list's items (by pointer into items) by name.
func byName[T any, PT interface {
	*T
	metav1.Object
}](items []T) map[string]any {
	m := make(map[string]any, len(items))
	for i := range items {
		p := PT(&items[i])
		m[p.GetName()] = p
	}
	return m
}

// resolveTarget reads the target's object and turns cfg into a resolved
// pod set and port.
func resolveTarget(ctx context.Context, c *Clients, cfg *Config) (*resolved, error) {
	port, err := parseRemotePort(cfg.RemotePort)
	if err != nil {
		return nil, err
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	r := &resolved{namespace: ns, port: port}
	if cfg.Target.IsZero() {
		return r.bySelector(cfg.Selector)
	}
	if err := checkTarget(cfg.Target); err != nil {
		return nil, err
	}
	kind, name := cfg.Target.Kind, cfg.Target.Name
	r.describe = cfg.Target.String()
	switch kind {
	case KindPod:
		// The pod need not exist yet only if it may be created later; a
		// missing pod is what kubectl reports as NotFound, and so do we.
		if _, err := c.API.GetPod(ctx, ns, name); err != nil {
			return nil, classify(err, "reading pod "+ns+"/"+name)
		}
		r.podName, r.selector = name, labels.Everything()
		return r, nil
	case KindService:
		return r.byService(ctx, c, name)
	}
	labelSel, err := workloadSelector(ctx, c, ns, kind, name)
	if err != nil {
		return nil, err
	}
	return r.byLabelSelector(labelSel)
}

// bySelector is a forward's own label selector (no target).
func (r *resolved) bySelector(set map[string]string) (*resolved, error) {
	if len(set) == 0 {
		return nil, runtime.Permanent(fmt.Errorf("neither a target nor a selector"))
	}
	sel, err := labels.ValidatedSelectorFromSet(set)
	if err != nil {
		return nil, runtime.Permanent(fmt.Errorf("selector: %w", err))
	}
	r.selector, r.describe = sel, "selector "+sel.String()
	return r, nil
}

// byService reads service name: its selector, and its port mapped to the
// pods' (servicePort).
func (r *resolved) byService(ctx context.Context, c *Clients, name string) (*resolved, error) {
	ns := r.namespace
	svc, err := readKind(ctx, c, ns, KindService, name, c.API.GetService, c.API.ListServices,
		func(l *corev1.ServiceList) map[string]any { return byName(l.Items) })
	if err != nil {
		return nil, err
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, runtime.Permanent(fmt.Errorf("service %s/%s has no selector", ns, name))
	}
	r.selector = labels.SelectorFromSet(svc.Spec.Selector)
	if r.port, err = servicePort(svc, r.port); err != nil {
		return nil, err
	}
	return r, nil
}

// workloadSelector reads a deployment's or a statefulset's spec.selector
// (nil: it has none).
func workloadSelector(ctx context.Context, c *Clients, ns, kind, name string) (*metav1.LabelSelector, error) {
	switch kind {
	case KindDeployment:
		d, err := readKind(ctx, c, ns, kind, name, c.API.GetDeployment, c.API.ListDeployments,
			func(l *appsv1.DeploymentList) map[string]any { return byName(l.Items) })
		if err != nil {
			return nil, err
		}
		return d.Spec.Selector, nil
	case KindStatefulSet:
		st, err := readKind(ctx, c, ns, kind, name, c.API.GetStatefulSet, c.API.ListStatefulSets,
			func(l *appsv1.StatefulSetList) map[string]any { return byName(l.Items) })
		if err != nil {
			return nil, err
		}
		return st.Spec.Selector, nil
	}
	return nil, nil
}

// byLabelSelector is a workload's spec.selector, which must select.
func (r *resolved) byLabelSelector(labelSel *metav1.LabelSelector) (*resolved, error) {
	if labelSel == nil {
		return nil, runtime.Permanent(fmt.Errorf("%s has no selector", r.describe))
	}
	sel, err := metav1.LabelSelectorAsSelector(labelSel)
	if err != nil {
		return nil, runtime.Permanent(fmt.Errorf("%s selector: %w", r.describe, err))
	}
	if sel.Empty() {
		return nil, runtime.Permanent(fmt.Errorf("%s has an empty selector", r.describe))
	}
	r.selector = sel
	return r, nil
}

// servicePort maps the service port p (number or port name) to the pod
// port its targetPort names, as kubectl does.
func servicePort(svc *corev1.Service, p remotePort) (remotePort, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		if (p.name != "" && sp.Name == p.name) || (p.name == "" && sp.Port == p.number) {
			switch {
			case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
				return remotePort{name: sp.TargetPort.StrVal}, nil
			case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0:
				return remotePort{number: sp.TargetPort.IntVal}, nil
			default:
				return remotePort{number: sp.Port}, nil
			}
		}
	}
	return remotePort{}, runtime.Permanent(fmt.Errorf("service %s/%s has no TCP port %s (%s)", svc.Namespace, svc.Name, p, describePorts(svc.Spec.Ports)))
}

// describePorts lists a service's TCP ports for an error, as "its TCP
// ports: http (80), 9090" (a port's name, if any, then its number).
func describePorts(ports []corev1.ServicePort) string {
	var tcp []string
	for _, sp := range ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		if sp.Name != "" {
			tcp = append(tcp, fmt.Sprintf("%s (%d)", sp.Name, sp.Port))
		} else {
			tcp = append(tcp, strconv.Itoa(int(sp.Port)))
		}
	}
	if len(tcp) == 0 {
		return "it has no TCP port"
	}
	return "its TCP ports: " + strings.Join(tcp, ", ")
}

// Resolution is what a forward's target resolved to: the pod set it serves
// and the port on those pods. A restarted agent persists it with the
// forward and passes it back (Config.Resolved), so that the forward serves
// again without reading its target first; the caller checks it against the
// server afterwards (Engine.Resolve) and starts the forward anew if it
// changed while the agent was down.
type Resolution struct {
	Namespace string `json:"namespace"`
	Selector  string `json:"selector,omitempty"` // label selector; empty for a pod
	Pod       string `json:"pod,omitempty"`      // pod/NAME targets only
	Port      string `json:"port"`               // number or container port name
	Describe  string `json:"describe"`
}

// resolution is r as a Resolution.
func (r *resolved) resolution() Resolution {
	x := Resolution{Namespace: r.namespace, Pod: r.podName, Port: r.port.String(), Describe: r.describe}
	if r.podName == "" {
		x.Selector = r.selector.String()
	}
	return x
}

// resolved parses x back; an empty selector for a pod set is refused (it
// would select every pod of the namespace).
func (x Resolution) resolved() (*resolved, error) {
	port, err := parseRemotePort(x.Port)
	if err != nil {
		return nil, err
	}
	if x.Namespace == "" {
		return nil, errors.New("resolution without a namespace")
	}
	r := &resolved{namespace: x.Namespace, podName: x.Pod, port: port, describe: x.Describe, selector: labels.Everything()}
	if x.Pod == "" {
		if x.Selector == "" {
			return nil, errors.New("resolution without a selector or a pod")
		}
		if r.selector, err = labels.Parse(x.Selector); err != nil {
			return nil, fmt.Errorf("resolution selector: %w", err)
		}
	}
	return r, nil
}

// Resolve reads cfg's target from the server as Start does, without
// starting anything.
func (e *Engine) Resolve(ctx context.Context, c *Clients, cfg Config) (Resolution, error) {
	if c == nil || c.API == nil {
		return Resolution{}, runtime.Permanent(fmt.Errorf("forward %s: no clients", cfg.Name))
	}
	res, err := resolveTarget(ctx, c, &cfg)
	if err != nil {
		return Resolution{}, fmt.Errorf("forward %s: %w", cfg.Name, err)
	}
	return res.resolution(), nil
}
