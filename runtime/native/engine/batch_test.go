package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// that counts gets and lists of services and holds every GET until
// release is closed, so the reads that follow see them in flight. The
// fake serves one call at a time: a held GET holds up the LIST too, which
// then answers once release is closed.
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
		env.heldOnce.Do(func() { close(env.firstGetHeld) })
		<-env.release
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

// resolveAll resolves service targets concurrently: names[0] first, then
// the rest one by one, each once the reads before it are in flight (held
// GETs, or waiting for a LIST), then lets the GETs go.
func (env *batchEnv) resolveAll(t *testing.T, names []string) []error {
	t.Helper()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	var finished atomic.Int64 // before the GETs go: only reads a LIST served
	resolve := func(i int) {
		defer wg.Done()
		defer finished.Add(1)
		r, err := resolveTarget(context.Background(), env.c, &Config{Target: tgt("service/" + names[i]), Namespace: "demo", RemotePort: "http"})
		if err == nil && r.selector.String() != "app="+names[i][len("svc-"):] {
			err = fmt.Errorf("%s resolved to selector %s", names[i], r.selector)
		}
		errs[i] = err
	}
	wg.Add(1)
	go resolve(0)
	<-env.firstGetHeld
	for i := 1; i < len(names); i++ {
		wg.Add(1)
		go resolve(i)
		// Until this read is in flight (its GET held, or waiting for a
		// LIST) or a LIST served it.
		for deadline := time.Now().Add(5 * time.Second); env.inFlight()+finished.Load() < int64(i+1) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(env.release)
	wg.Wait()
	return errs
}

// inFlight is how many reads the batcher has out: GETs (the fake
// clientset serves one at a time, so all but one wait for its lock) and
// reads waiting for a LIST.
func (env *batchEnv) inFlight() int64 {
	b := &env.c.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, st := range b.kinds {
		n += int64(st.reading + st.waiting)
	}
	return n
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
	// listAfter GETs in flight, the other reads joined one LIST, plus
	// the missing one's GET.
	if l := env.lists.Load(); l != 1 {
		t.Errorf("%d lists, want 1", l)
	}
	if g := env.gets.Load(); g != listAfter+1 {
		t.Errorf("%d gets for 31 reads, want the first %d and the missing one's", g, listAfter)
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
	b := &env.c.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.kinds[batchKey{"demo", KindService}]; st == nil || !st.noList {
		t.Error("the batcher does not remember that listing services is forbidden")
	}
}
