package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// tgt is s parsed as the native runtime's wire parses it.
func tgt(s string) kinds.Target {
	t, err := kinds.ParseTarget(s)
	if err != nil {
		panic(err)
	}
	return t
}

func demoObjects() []kruntime.Object {
	web := map[string]string{"app": "web"}
	return []kruntime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
			Spec: corev1.ServiceSpec{Selector: web, Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9091)},
				{Name: "plain", Port: 7070},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			}},
		},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "demo"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
				MatchLabels:      web,
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front"}}},
			}},
		},
		&appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "demo"},
			Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		},
		readyPod("demo", "db-0", map[string]string{"app": "db"}, corev1.ContainerPort{Name: "postgres", ContainerPort: 5432}),
	}
}

func TestResolveTarget(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		selector  string
		podName   string
		port      remotePort
		permanent bool
		errText   string // what the error must say, if any
	}{
		{name: "service named targetPort", cfg: Config{Target: tgt("service/web"), RemotePort: "80"}, selector: "app=web", port: remotePort{name: "http"}},
		{name: "service port by name", cfg: Config{Target: tgt("svc/web"), RemotePort: "http"}, selector: "app=web", port: remotePort{name: "http"}},
		{name: "service numeric targetPort", cfg: Config{Target: tgt("svc/web"), RemotePort: "9090"}, selector: "app=web", port: remotePort{number: 9091}},
		{name: "service without targetPort", cfg: Config{Target: tgt("svc/web"), RemotePort: "plain"}, selector: "app=web", port: remotePort{number: 7070}},
		{name: "service has no such port", cfg: Config{Target: tgt("svc/web"), RemotePort: "81"}, permanent: true,
			errText: "service demo/web has no TCP port 81 (its TCP ports: http (80), metrics (9090), plain (7070))"},
		{name: "service has no such named port", cfg: Config{Target: tgt("svc/web"), RemotePort: "https"}, permanent: true,
			errText: "service demo/web has no TCP port https (its TCP ports: http (80), metrics (9090), plain (7070))"},
		{name: "service UDP port", cfg: Config{Target: tgt("svc/web"), RemotePort: "53"}, permanent: true},
		{name: "service without selector", cfg: Config{Target: tgt("svc/headless"), RemotePort: "80"}, permanent: true},
		{name: "service not found", cfg: Config{Target: tgt("svc/nope"), RemotePort: "80"}, permanent: true},
		{name: "deployment", cfg: Config{Target: tgt("deployment/web"), RemotePort: "http"}, selector: "app=web,tier in (front)", port: remotePort{name: "http"}},
		{name: "statefulset", cfg: Config{Target: tgt("sts/db"), RemotePort: "5432"}, selector: "app=db", port: remotePort{number: 5432}},
		{name: "statefulset not found", cfg: Config{Target: tgt("sts/nope"), RemotePort: "5432"}, permanent: true},
		{name: "pod", cfg: Config{Target: tgt("pod/db-0"), RemotePort: "postgres"}, podName: "db-0", port: remotePort{name: "postgres"}},
		{name: "pod not found", cfg: Config{Target: tgt("pod/db-1"), RemotePort: "5432"}, permanent: true},
		{name: "selector", cfg: Config{Selector: map[string]string{"app": "db"}, RemotePort: "5432"}, selector: "app=db", port: remotePort{number: 5432}},
		{name: "bad selector", cfg: Config{Selector: map[string]string{"app": "a b"}, RemotePort: "5432"}, permanent: true},
		{name: "no target", cfg: Config{RemotePort: "5432"}, permanent: true},
		{name: "remote port out of range", cfg: Config{Target: tgt("pod/db-0"), RemotePort: "70000"}, permanent: true},
		{name: "unknown kind", cfg: Config{Target: kinds.Target{Kind: "job", Name: "x"}, RemotePort: "80"}, permanent: true,
			errText: `target "job/x": unknown kind "job" (want service, pod, deployment or statefulset)`},
		{name: "no name", cfg: Config{Target: kinds.Target{Kind: kinds.Service}, RemotePort: "80"}, permanent: true,
			errText: `target "service/": want TYPE/NAME`},
	}
	c := &Clients{API: clientsetAPI{fake.NewClientset(demoObjects()...)}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Namespace = "demo"
			r, err := resolveTarget(context.Background(), c, &tt.cfg)
			if tt.permanent {
				if !runtime.IsPermanent(err) {
					t.Fatalf("resolveTarget = %v, want a permanent error", err)
				}
				if tt.errText != "" && err.Error() != tt.errText {
					t.Errorf("resolveTarget error:\n got %q\nwant %q", err, tt.errText)
				}
				if strings.Contains(err.Error(), "permanent") {
					t.Errorf("resolveTarget error %q shows the permanent mark", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.podName != tt.podName || r.port != tt.port || (tt.podName == "" && r.selector.String() != tt.selector) {
				t.Errorf("resolved pod %q selector %q port %+v; want pod %q selector %q port %+v", r.podName, r.selector, r.port, tt.podName, tt.selector, tt.port)
			}
		})
	}
}

func TestResolveTargetForbiddenIsPermanent(t *testing.T) {
	kube := fake.NewClientset(demoObjects()...)
	kube.PrependReactor("get", "*", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: a.GetResource().Resource}, "x", errors.New("RBAC says no"))
	})
	for _, target := range []string{"svc/web", "deploy/web", "sts/db", "pod/db-0"} {
		_, err := resolveTarget(context.Background(), &Clients{API: clientsetAPI{kube}}, &Config{Target: tgt(target), Namespace: "demo", RemotePort: "80"})
		if !runtime.IsPermanent(err) || !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want a permanent Forbidden error", target, err)
		}
	}
}

func TestResolveTargetServerErrorIsRetryable(t *testing.T) {
	kube := fake.NewClientset(demoObjects()...)
	kube.PrependReactor("get", "services", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, err := resolveTarget(context.Background(), &Clients{API: clientsetAPI{kube}}, &Config{Target: tgt("svc/web"), Namespace: "demo", RemotePort: "80"})
	if err == nil || runtime.IsPermanent(err) {
		t.Fatalf("got %v, want a retryable error", err)
	}
}

func TestRemotePortResolvesPerPod(t *testing.T) {
	a := readyPod("demo", "a", nil, corev1.ContainerPort{Name: "http", ContainerPort: 8080})
	b := readyPod("demo", "b", nil, corev1.ContainerPort{Name: "http", ContainerPort: 9000})
	udp := readyPod("demo", "u", nil, corev1.ContainerPort{Name: "http", ContainerPort: 53, Protocol: corev1.ProtocolUDP})
	named := remotePort{name: "http"}
	for _, tt := range []struct {
		pod  *corev1.Pod
		port remotePort
		want int32
	}{
		{a, named, 8080}, {b, named, 9000}, {a, remotePort{number: 1234}, 1234}, {udp, named, 0},
	} {
		got, err := tt.port.resolve(tt.pod)
		if got != tt.want || (tt.want == 0) != (err != nil) {
			t.Errorf("%s on %s = %d, %v; want %d", tt.port, tt.pod.Name, got, err, tt.want)
		}
	}
}

func TestEligible(t *testing.T) {
	now := metav1.Now()
	ready := readyPod("demo", "p", nil)
	pending := ready.DeepCopy()
	pending.Status.Phase = corev1.PodPending
	terminating := ready.DeepCopy()
	terminating.DeletionTimestamp = &now
	noCondition := ready.DeepCopy()
	noCondition.Status.Conditions = nil
	for _, tt := range []struct {
		name       string
		pod        *corev1.Pod
		want, keep bool
	}{
		{"ready", ready, true, true},
		{"not ready", notReady(ready), false, false},
		{"pending", pending, false, false},
		{"terminating", terminating, false, true},
		{"no condition", noCondition, false, false},
	} {
		if got := eligible(tt.pod); got != tt.want {
			t.Errorf("eligible(%s) = %v, want %v", tt.name, got, tt.want)
		}
		if got := keepsTunnel(tt.pod); got != tt.keep {
			t.Errorf("keepsTunnel(%s) = %v, want %v", tt.name, got, tt.keep)
		}
	}
}

func TestResolutionRoundTrips(t *testing.T) {
	cfgs := []Config{
		{Target: tgt("service/web"), RemotePort: "80"},
		{Target: tgt("svc/web"), RemotePort: "9090"},
		{Target: tgt("deployment/web"), RemotePort: "http"},
		{Target: tgt("sts/db"), RemotePort: "5432"},
		{Target: tgt("pod/db-0"), RemotePort: "postgres"},
		{Selector: map[string]string{"app": "db"}, RemotePort: "5432"},
	}
	c := &Clients{API: clientsetAPI{fake.NewClientset(demoObjects()...)}}
	for _, cfg := range cfgs {
		t.Run(cfg.Target.String()+cfg.RemotePort, func(t *testing.T) {
			cfg.Namespace = "demo"
			r, err := resolveTarget(context.Background(), c, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			back, err := r.resolution().resolved()
			if err != nil {
				t.Fatal(err)
			}
			if back.key() != r.key() || back.port != r.port || back.namespace != r.namespace || back.describe != r.describe {
				t.Errorf("round trip of %+v gave %+v", r, back)
			}
		})
	}
}

func TestResolutionRefusesWhatWouldSelectEverything(t *testing.T) {
	for _, x := range []Resolution{
		{Namespace: "demo", Port: "80"},                          // neither a selector nor a pod
		{Selector: "app=web", Port: "80"},                        // no namespace
		{Namespace: "demo", Selector: "app=web", Port: "70000"},  // port out of range
		{Namespace: "demo", Selector: "app in (web", Port: "80"}, // not a selector
	} {
		if r, err := x.resolved(); err == nil {
			t.Errorf("%+v resolved to %+v, want an error", x, r)
		}
	}
}

// A forward started with a resolution serves without reading its target;
// an unusable one is read again.
func TestStartWithResolutionReadsNoTarget(t *testing.T) {
	env := newTestEnv(t, Options{}, append(demoObjects(), webPod("web-a"))...)
	first := env.start(Config{Name: "first", Target: tgt("service/web"), RemotePort: "80"})
	res := first.Resolution()
	if res.Selector != "app=web" || res.Port != "http" || res.Namespace != "demo" {
		t.Fatalf("resolution %+v, want app=web, port http in demo", res)
	}
	reads := func() (n int) {
		for _, a := range env.kube.Actions() {
			if a.GetResource().Resource == "services" {
				n++
			}
		}
		return n
	}
	before := reads()
	again := env.start(Config{Name: "again", Target: tgt("service/web"), RemotePort: "80", Resolved: &res})
	if got := mustBanner(t, again); got != "web-a" {
		t.Errorf("through the forward started with a resolution: %q, want web-a", got)
	}
	if n := reads() - before; n != 0 {
		t.Errorf("%d reads of services for a start with a resolution, want none", n)
	}
	bad := res
	bad.Selector = ""
	env.start(Config{Name: "bad", Target: tgt("service/web"), RemotePort: "80", Resolved: &bad})
	if n := reads() - before; n == 0 {
		t.Error("an unusable resolution was used: no read of the service")
	}
}
