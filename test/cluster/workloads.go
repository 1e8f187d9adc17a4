//go:build linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// rolloutTimeout bounds every wait for pods to become Ready and backed.
const rolloutTimeout = 90 * time.Second

// CreateNamespace creates namespace ns (an existing one is fine).
func (c *Cluster) CreateNamespace(ctx context.Context, ns string) error {
	if err := c.api.create(ctx, "/api/v1/namespaces", map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// containerPort is a named (or unnamed) port of the fake container.
type containerPort struct {
	name string
	port int32
}

func podTemplate(app string, ports []containerPort) map[string]any {
	var cps []any
	for _, p := range ports {
		cp := map[string]any{"containerPort": p.port, "protocol": "TCP"}
		if p.name != "" {
			cp["name"] = p.name
		}
		cps = append(cps, cp)
	}
	return map[string]any{
		"metadata": map[string]any{"labels": map[string]string{"app": app}},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": app, "image": "kpf.invalid/fake:latest", "ports": cps}},
			"tolerations": []any{map[string]any{
				"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule",
			}},
		},
	}
}

func (c *Cluster) createDeployment(ctx context.Context, ns, name string, replicas int, ports []containerPort) error {
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]string{"app": name}},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]string{"app": name}},
			"template": podTemplate(name, ports),
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{
				"maxUnavailable": 0, "maxSurge": "100%",
			}},
		},
	}
	if err := c.api.create(ctx, "/apis/apps/v1/namespaces/"+ns+"/deployments", obj); err != nil {
		return fmt.Errorf("creating deployment %s/%s: %w", ns, name, err)
	}
	return nil
}

func (c *Cluster) createStatefulSet(ctx context.Context, ns, name string, replicas int, ports []containerPort) error {
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]string{"app": name}},
		"spec": map[string]any{
			"replicas":    replicas,
			"serviceName": name,
			"selector":    map[string]any{"matchLabels": map[string]string{"app": name}},
			"template":    podTemplate(name, ports),
		},
	}
	if err := c.api.create(ctx, "/apis/apps/v1/namespaces/"+ns+"/statefulsets", obj); err != nil {
		return fmt.Errorf("creating statefulset %s/%s: %w", ns, name, err)
	}
	return nil
}

// servicePort maps port to targetPort (a number, or a container port name).
type servicePort struct {
	name       string
	port       int32
	targetPort any
}

func (c *Cluster) createService(ctx context.Context, ns, name string, ports []servicePort) error {
	var sps []any
	for _, p := range ports {
		sp := map[string]any{"port": p.port, "targetPort": p.targetPort, "protocol": "TCP"}
		if p.name != "" {
			sp["name"] = p.name
		}
		sps = append(sps, sp)
	}
	obj := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]string{"app": name}},
		"spec":     map[string]any{"selector": map[string]string{"app": name}, "ports": sps},
	}
	if err := c.api.create(ctx, "/api/v1/namespaces/"+ns+"/services", obj); err != nil {
		return fmt.Errorf("creating service %s/%s: %w", ns, name, err)
	}
	return nil
}

// DeployDemo creates namespace ns with the demo workloads and waits until
// every pod is Ready and backed by a PortForward:
//   - Deployment web (2 replicas, containerPort 8080 "http"), Service web 80 "http" → "http"
//   - Deployment api (1 replica, 8080), Service api 8080 → 8080
//   - StatefulSet db (1 replica, 5432 "postgres"), Service db 5432 "postgres" → "postgres"
func (c *Cluster) DeployDemo(ctx context.Context, ns string) error {
	if err := c.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	steps := []func() error{
		func() error { return c.createDeployment(ctx, ns, "web", 2, []containerPort{{"http", 8080}}) },
		func() error { return c.createService(ctx, ns, "web", []servicePort{{"http", 80, "http"}}) },
		func() error { return c.createDeployment(ctx, ns, "api", 1, []containerPort{{"", 8080}}) },
		func() error { return c.createService(ctx, ns, "api", []servicePort{{"", 8080, 8080}}) },
		func() error { return c.createStatefulSet(ctx, ns, "db", 1, []containerPort{{"postgres", 5432}}) },
		func() error { return c.createService(ctx, ns, "db", []servicePort{{"postgres", 5432, "postgres"}}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	for app, n := range map[string]int{"web": 2, "api": 1, "db": 1} {
		if err := c.WaitBacked(ctx, ns, "app="+app, n); err != nil {
			return err
		}
	}
	return nil
}

// DeployEcho creates Deployment and Service name in ns (containerPort 8080
// "http", service port 80 "http") with replicas pods, and waits until they
// are Ready and backed.
func (c *Cluster) DeployEcho(ctx context.Context, ns, name string, replicas int) error {
	if err := c.createDeployment(ctx, ns, name, replicas, []containerPort{{"http", 8080}}); err != nil {
		return err
	}
	if err := c.createService(ctx, ns, name, []servicePort{{"http", 80, "http"}}); err != nil {
		return err
	}
	return c.WaitBacked(ctx, ns, "app="+name, replicas)
}

// listPods returns the pods matching selector in ns.
func (c *Cluster) listPods(ctx context.Context, ns, selector string) ([]pod, error) {
	q := url.Values{}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	var list podList
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods?"+q.Encode(), nil, &list); err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	return list.Items, nil
}

// Pods returns the sorted names of the live (not terminating) pods matching
// the label selector in ns.
func (c *Cluster) Pods(ctx context.Context, ns, selector string) ([]string, error) {
	pods, err := c.listPods(ctx, ns, selector)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pods {
		if p.Metadata.DeletionTimestamp == nil {
			names = append(names, p.Metadata.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// WaitBacked waits until exactly n pods match selector in ns, none is
// terminating, and each is Ready and has a PortForward owned by it.
func (c *Cluster) WaitBacked(ctx context.Context, ns, selector string, n int) error {
	return c.waitFor(ctx, fmt.Sprintf("%d backed pods %s in %s", n, selector, ns), rolloutTimeout, nil, func(ctx context.Context) error {
		pods, err := c.listPods(ctx, ns, selector)
		if err != nil {
			return err
		}
		if len(pods) != n {
			return fmt.Errorf("%d pods", len(pods))
		}
		var pfs portForwardList
		if err := c.api.do(ctx, http.MethodGet, portForwardsPath+"/namespaces/"+ns+"/portforwards", nil, &pfs); err != nil {
			return err
		}
		for _, p := range pods {
			if p.Metadata.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s terminating", p.Metadata.Name)
			}
			if !p.ready() {
				return fmt.Errorf("pod %s not ready", p.Metadata.Name)
			}
			backed := false
			for _, pf := range pfs.Items {
				if pf.Metadata.Name == p.Metadata.Name && ownedBy(pf.Metadata, p.Metadata.UID) {
					backed = true
				}
			}
			if !backed {
				return fmt.Errorf("pod %s has no port forward", p.Metadata.Name)
			}
		}
		return nil
	})
}

// RolloutRestart restarts Deployment deploy in ns (like `kubectl rollout
// restart`) and waits until only new pods remain, Ready and backed.
func (c *Cluster) RolloutRestart(ctx context.Context, ns, deploy string) error {
	path := "/apis/apps/v1/namespaces/" + ns + "/deployments/" + deploy
	var d struct {
		Spec struct {
			Replicas int `json:"replicas"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	if err := c.api.do(ctx, http.MethodGet, path, nil, &d); err != nil {
		return fmt.Errorf("reading deployment %s/%s: %w", ns, deploy, err)
	}
	before, err := c.Pods(ctx, ns, labelSelector(d.Spec.Selector.MatchLabels))
	if err != nil {
		return err
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{"kubectl.kubernetes.io/restartedAt": time.Now().Format(time.RFC3339Nano)},
	}}}}
	if err := c.api.patch(ctx, path, patch); err != nil {
		return fmt.Errorf("restarting deployment %s/%s: %w", ns, deploy, err)
	}
	sel := labelSelector(d.Spec.Selector.MatchLabels)
	if err := c.waitFor(ctx, "old pods of "+deploy+" to go", rolloutTimeout, nil, func(ctx context.Context) error {
		pods, err := c.listPods(ctx, ns, sel)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if slices.Contains(before, p.Metadata.Name) {
				return fmt.Errorf("old pod %s still there", p.Metadata.Name)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return c.WaitBacked(ctx, ns, sel, d.Spec.Replicas)
}

// DeletePod deletes pod in ns and waits until it is gone.
func (c *Cluster) DeletePod(ctx context.Context, ns, name string) error {
	path := "/api/v1/namespaces/" + ns + "/pods/" + name
	var p pod
	if err := c.api.do(ctx, http.MethodGet, path, nil, &p); err != nil {
		return fmt.Errorf("reading pod %s/%s: %w", ns, name, err)
	}
	if err := c.api.do(ctx, http.MethodDelete, path, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("deleting pod %s/%s: %w", ns, name, err)
	}
	return c.waitFor(ctx, "pod "+ns+"/"+name+" to go", rolloutTimeout, nil, func(ctx context.Context) error {
		var now pod
		err := c.api.do(ctx, http.MethodGet, path, nil, &now)
		switch {
		case isStatus(err, http.StatusNotFound):
			return nil
		case err != nil:
			return err
		case now.Metadata.UID != p.Metadata.UID:
			return nil // a StatefulSet already made a new pod of the same name
		default:
			return errors.New("still there")
		}
	})
}

func labelSelector(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// BackendAddr is the loopback address of the server that plays container
// port port of pod ns/name: the path's floor, reached without the API
// server, kwok or a tunnel (for benchmarks that compare against it).
func (c *Cluster) BackendAddr(ns, name string, port int32) (string, error) {
	c.back.mu.Lock()
	defer c.back.mu.Unlock()
	for _, bp := range c.back.pods {
		if bp.namespace == ns && bp.name == name {
			if s, ok := bp.servers[port]; ok {
				return fmt.Sprintf("127.0.0.1:%d", s.Port()), nil
			}
			return "", fmt.Errorf("pod %s/%s has no container port %d", ns, name, port)
		}
	}
	return "", fmt.Errorf("pod %s/%s has no backend", ns, name)
}
