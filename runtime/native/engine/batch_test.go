package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kpf-dev/kpf/runtime"
)

// batchEnv is a fake clientset with n services svc-0..svc-n-1 in "demo"
// that counts gets and lists of services and holds the first GET until
// release is closed, so the reads that follow it see one in flight.
type batchEnv struct {
	c            *Clients
	gets, lists  atomic.Int64
	firstGetHeld chan struct{} // closed once the first GET waits
	release      chan struct{}
	forbidList   bool
	heldOnce     sync.Once
}

func newBatchEnv(n int, forbidList bool) *batchEnv {
	var objs []kruntime.Object
	for i := range n {
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: "demo"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": fmt.Sprint(i)}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
	}
	kube := fake.NewClientset(objs...)
	env := &batchEnv{c: &Clients{API: clientsetAPI{kube}}, firstGetHeld: make(chan struct{}), release: make(chan struct{}), forbidList: forbidList}
	kube.PrependReactor("get", "services", func(k8stesting.Action) (bool, kruntime.Object, error) {
		env.gets.Add(1)
		env.heldOnce.Do(func() {
			close(env.firstGetHeld)
			<-env.release
		})
		return false, nil, nil
	})
	kube.PrependReactor("list", "services", func(k8stesting.Action) (bool, kruntime.Object, error) {
		env.lists.Add(1)
		if env.forbidList {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "", errors.New("RBAC: get only"))
		}
		return false, nil, nil
	})
	return env
}

// resolveAll resolves service targets concurrently: names[0] first (its GET
// held), then the rest, then lets the first GET go.
func (env *batchEnv) resolveAll(t *testing.T, names []string) []error {
	t.Helper()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	resolve := func(i int) {
		defer wg.Done()
		r, err := resolveTarget(context.Background(), env.c, &Config{Target: "service/" + names[i], Namespace: "demo", RemotePort: "http"})
		if err == nil && r.selector.String() != "app="+names[i][len("svc-"):] {
			err = fmt.Errorf("%s resolved to selector %s", names[i], r.selector)
		}
		errs[i] = err
	}
	wg.Add(1)
	go resolve(0)
	<-env.firstGetHeld
	var rest sync.WaitGroup
	for i := 1; i < len(names); i++ {
		wg.Add(1)
		rest.Add(1)
		go func() { rest.Done(); resolve(i) }()
	}
	rest.Wait()
	close(env.release)
	wg.Wait()
	return errs
}

func TestTargetReadsThatStartTogetherShareOneList(t *testing.T) {
	env := newBatchEnv(30, false)
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("svc-%d", i))
	}
	names = append(names, "missing") // not in the list: read with a GET, NotFound
	errs := env.resolveAll(t, names)
	for i, err := range errs[:30] {
		if err != nil {
			t.Errorf("%s: %v", names[i], err)
		}
	}
	if err := errs[30]; !apierrors.IsNotFound(err) || !runtime.IsPermanent(err) {
		t.Errorf("missing service: %v, want a permanent NotFound from its GET", err)
	}
	// One GET held, the others joined one LIST (some may have started
	// before the LIST did: each such one is a GET, never a second LIST),
	// plus the missing one's GET.
	if l := env.lists.Load(); l != 1 {
		t.Errorf("%d lists, want 1", l)
	}
	if g := env.gets.Load(); g > 5 {
		t.Errorf("%d gets for 31 reads, want the held one, the missing one and few others", g)
	}
}

func TestTargetReadsWhereListingIsForbiddenGetEach(t *testing.T) {
	env := newBatchEnv(10, true)
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("svc-%d", i))
	}
	for i, err := range env.resolveAll(t, names) {
		if err != nil {
			t.Errorf("%s: %v", names[i], err)
		}
	}
	if g := env.gets.Load(); g != 10 {
		t.Errorf("%d gets, want 10 (listing is forbidden)", g)
	}
	lists := env.lists.Load()
	if lists != 1 {
		t.Errorf("%d lists, want the 1 that found it forbidden", lists)
	}
	// Later reads do not try to list again.
	for i := range 3 {
		var wg sync.WaitGroup
		for j := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := resolveTarget(context.Background(), env.c, &Config{Target: fmt.Sprintf("service/svc-%d", i*3+j), Namespace: "demo", RemotePort: "http"}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if l := env.lists.Load(); l != lists {
		t.Errorf("%d lists after listing was forbidden, want none more", l-lists)
	}
}
