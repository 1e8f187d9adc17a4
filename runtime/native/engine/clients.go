package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// API is the part of the Kubernetes API the engine uses: it reads targets,
// lists and watches pods, and knows where a pod's portforward subresource
// is. NewClients builds it on two REST clients that know only core/v1 and
// apps/v1; tests put client-go's fake clientset behind it.
//
// Not client-go's typed clientset: its scheme registers every API group at
// package init, about 6 ms of every kpf command's start (kpf plan included)
// for a process that never uses them.
type API interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error)
	WatchPods(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error)
	GetService(ctx context.Context, namespace, name string) (*corev1.Service, error)
	ListServices(ctx context.Context, namespace string) (*corev1.ServiceList, error)
	GetDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error)
	ListDeployments(ctx context.Context, namespace string) (*appsv1.DeploymentList, error)
	GetStatefulSet(ctx context.Context, namespace, name string) (*appsv1.StatefulSet, error)
	ListStatefulSets(ctx context.Context, namespace string) (*appsv1.StatefulSetList, error)
	// PortForwardURL is the pod's portforward subresource.
	PortForwardURL(namespace, pod string) *url.URL
}

// Clients is what the engine talks to one kube context with: its rest
// config (for port-forward upgrades) and its API. Build one per context and
// share it between that context's forwards: informers and tunnels are
// shared per *Clients, and an exec credential plugin then runs once.
type Clients struct {
	Config *rest.Config
	API    API
	// Transport is how this context's tunnels reach their pods; empty:
	// the engine's Options.Transport.
	Transport Transport
	// spdyRefused: under TransportAuto, a SPDY upgrade was refused and the
	// WebSocket upgrade that followed worked; later tunnels go WebSocket
	// first.
	spdyRefused atomic.Bool

	batch batcher // target reads of forwards that start together
}

// NewClients copies cfg, disables client-go's client-side rate limit (the
// default QPS 5, burst 10 made 100 starts take 38 s; the API server's own
// priority and fairness still applies) and builds the API on one HTTP
// client shared by its core/v1 and apps/v1 REST clients.
func NewClients(cfg *rest.Config) (*Clients, error) {
	if cfg == nil {
		return nil, fmt.Errorf("no rest config")
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1 // negative: no client-side rate limiter at all
	cfg.Burst = 0
	cfg.RateLimiter = nil
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a Kubernetes client: %w", err)
	}
	core, err := restClient(cfg, hc, corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	apps, err := restClient(cfg, hc, appsv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	return &Clients{Config: cfg, API: &restAPI{core: core, apps: apps}}, nil
}

// codecs holds only the types the engine reads, built on first use.
var codecs = sync.OnceValues(func() (serializer.CodecFactory, kruntime.ParameterCodec) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // registering static types: a programming error
		}
	}
	// ListOptions and friends for the unversioned meta group, as client-go's
	// scheme does.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return serializer.NewCodecFactory(s), kruntime.NewParameterCodec(s)
})

func restClient(cfg *rest.Config, hc *http.Client, gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	f, _ := codecs()
	c.GroupVersion, c.APIPath = &gv, apiPath
	c.NegotiatedSerializer = serializer.WithoutConversionCodecFactory{CodecFactory: f}
	rc, err := rest.RESTClientForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("building a Kubernetes client for %s: %w", gv, err)
	}
	return rc, nil
}

// restAPI is API over the REST clients of core/v1 and apps/v1.
type restAPI struct{ core, apps *rest.RESTClient }

func (a *restAPI) get(ctx context.Context, c *rest.RESTClient, resource, namespace, name string, into kruntime.Object) error {
	return c.Get().Namespace(namespace).Resource(resource).Name(name).Do(ctx).Into(into)
}

func (a *restAPI) list(ctx context.Context, c *rest.RESTClient, resource, namespace string, into kruntime.Object) error {
	return c.Get().Namespace(namespace).Resource(resource).Do(ctx).Into(into)
}

// pods is a GET of namespace's pods with opts (a list, or a watch).
func (a *restAPI) pods(namespace string, opts metav1.ListOptions) *rest.Request {
	_, pc := codecs()
	req := a.core.Get().Namespace(namespace).Resource("pods").VersionedParams(&opts, pc)
	if opts.TimeoutSeconds != nil {
		req = req.Timeout(time.Duration(*opts.TimeoutSeconds) * time.Second)
	}
	return req
}

func (a *restAPI) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	p := &corev1.Pod{}
	return p, a.get(ctx, a.core, "pods", namespace, name, p)
}

func (a *restAPI) GetService(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	s := &corev1.Service{}
	return s, a.get(ctx, a.core, "services", namespace, name, s)
}

func (a *restAPI) ListServices(ctx context.Context, namespace string) (*corev1.ServiceList, error) {
	l := &corev1.ServiceList{}
	return l, a.list(ctx, a.core, "services", namespace, l)
}

func (a *restAPI) GetDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	return d, a.get(ctx, a.apps, "deployments", namespace, name, d)
}

func (a *restAPI) ListDeployments(ctx context.Context, namespace string) (*appsv1.DeploymentList, error) {
	l := &appsv1.DeploymentList{}
	return l, a.list(ctx, a.apps, "deployments", namespace, l)
}

func (a *restAPI) ListStatefulSets(ctx context.Context, namespace string) (*appsv1.StatefulSetList, error) {
	l := &appsv1.StatefulSetList{}
	return l, a.list(ctx, a.apps, "statefulsets", namespace, l)
}

func (a *restAPI) GetStatefulSet(ctx context.Context, namespace, name string) (*appsv1.StatefulSet, error) {
	s := &appsv1.StatefulSet{}
	return s, a.get(ctx, a.apps, "statefulsets", namespace, name, s)
}

func (a *restAPI) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	l := &corev1.PodList{}
	return l, a.pods(namespace, opts).Do(ctx).Into(l)
}

func (a *restAPI) WatchPods(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return a.pods(namespace, opts).Watch(ctx)
}

// GetNamespace reads a namespace (init tells an unknown namespace from an
// empty one with it).
func (a *restAPI) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	n := &corev1.Namespace{}
	return n, a.core.Get().Resource("namespaces").Name(name).Do(ctx).Into(n)
}

// NamespaceExists reports whether namespace exists in c's cluster. An API
// that cannot read namespaces, or a server that refuses (RBAC: namespaces
// are cluster-scoped), is an error: the answer is unknown.
func NamespaceExists(ctx context.Context, c *Clients, namespace string) (bool, error) {
	g, ok := c.API.(interface {
		GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error)
	})
	if !ok {
		return false, errors.New("this client cannot read namespaces")
	}
	_, err := g.GetNamespace(ctx, namespace)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("reading namespace %q: %w", namespace, err)
}

func (a *restAPI) PortForwardURL(namespace, pod string) *url.URL {
	return a.core.Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
}
