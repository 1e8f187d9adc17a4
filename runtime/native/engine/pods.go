package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// eligible reports whether pod may take new connections: Running, Ready
// and not terminating.
func eligible(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	return podReady(pod)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// keepsTunnel reports whether in-flight connections to pod may go on: it
// exists, is Running and Ready. A terminating pod that is still Ready keeps
// its open connections (as kube-proxy does) but gets no new ones.
func keepsTunnel(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && podReady(pod)
}

// starting reports whether pod runs but is not Ready yet (a replacement
// pod waiting for its readiness probe): a tunnel to it can be dialed.
func starting(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && !podReady(pod)
}

// reasonNotReady closes a tunnel at once (deleted pods drain).
const reasonNotReady = "pod not ready"

// podRef names one pod incarnation.
type podRef struct {
	name string
	uid  types.UID
}

// sourceKey identifies a shared pod source.
type sourceKey struct {
	clients   *Clients
	namespace string
	set       string // resolved.key()
}

// podSource holds the pods of one (clients, namespace, selector) from an
// informer, shared by every forward with that key. Where watching pods is
// forbidden but listing is not, it lists on demand instead (listOnly).
type podSource struct {
	key    sourceKey
	res    *resolved // namespace and selection (port is per forward)
	log    hclog.Logger
	onGone func(c *Clients, ns string, p podRef, why string)
	// onStarting is told once per pod incarnation that it runs but is not
	// Ready (Engine.podStarting pre-dials it); nil: nobody is told.
	onStarting func(s *podSource, pod *corev1.Pod)
	refs       int // guarded by Engine.mu
	// started is closed once run returned; startErr is its error.
	started  chan struct{}
	startErr error
	stop     chan struct{}
	stopped  sync.Once

	mu       sync.Mutex
	store    cache.Store
	changed  chan struct{} // closed and replaced whenever the set changes
	listOnly bool
	synced   bool
	err      error // first error of the informer's list, before sync
	errCh    chan struct{}
	told     map[types.UID]bool // pods onStarting was told of
	// early are the pods a restarted agent served on before (Restore)
	// that this source's selection matches: its pods until it synced.
	early []*corev1.Pod
}

func newPodSource(key sourceKey, res *resolved, log hclog.Logger, onGone func(*Clients, string, podRef, string)) *podSource {
	return &podSource{
		key: key, res: res, log: log, onGone: onGone,
		stop: make(chan struct{}), started: make(chan struct{}), changed: make(chan struct{}), errCh: make(chan struct{}),
	}
}

// lw lists and watches the source's pods. It reports list errors before
// the first sync to Start, and turns a forbidden watch into list-only mode.
type lw struct{ s *podSource }

func (l lw) List(o metav1.ListOptions) (kruntime.Object, error) {
	return l.ListWithContext(context.Background(), o)
}

func (l lw) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return l.WatchWithContext(context.Background(), o)
}

func (l lw) ListWithContext(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
	s := l.s
	sel := s.res.listOptions()
	o.LabelSelector, o.FieldSelector = sel.LabelSelector, sel.FieldSelector
	list, err := s.key.clients.API.ListPods(ctx, s.key.namespace, o)
	if err != nil {
		s.setErr(err)
	}
	return list, err
}

func (l lw) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	s := l.s
	sel := s.res.listOptions()
	o.LabelSelector, o.FieldSelector = sel.LabelSelector, sel.FieldSelector
	w, err := s.key.clients.API.WatchPods(ctx, s.key.namespace, o)
	if err != nil && apierrors.IsForbidden(err) {
		s.log.Info("watching pods is forbidden: listing them per connection instead", "namespace", s.key.namespace, "error", err)
		s.mu.Lock()
		s.listOnly = true
		s.mu.Unlock()
		s.close() // the informer would retry the watch for ever
	}
	return w, err
}

// IsWatchListSemanticsUnSupported keeps the reflector on plain list+watch:
// one list error to report, one watch error to fall back on.
func (lw) IsWatchListSemanticsUnSupported() bool { return true }

func (s *podSource) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !s.synced {
		s.err = err
		close(s.errCh)
	}
}

// run starts the informer and waits until it has synced, its first list
// failed, or ctx ends.
func (s *podSource) run(ctx context.Context) error {
	store, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw{s},
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if pod, ok := obj.(*corev1.Pod); ok {
					s.maybeStarting(pod)
				}
				s.notify()
			},
			UpdateFunc: s.onUpdate,
			DeleteFunc: s.onDelete,
		},
	})
	s.mu.Lock()
	s.store = store
	early := len(s.early) > 0
	s.mu.Unlock()
	go ctrl.Run(s.stop)
	// HasSyncedChecker waits without polling (WaitForCacheSync polls every
	// 100 ms: 100 ms added to every start).
	synced := ctrl.HasSyncedChecker().Done()
	if early {
		go s.awaitEarly(synced)
		return nil
	}
	select {
	case <-synced:
		s.mu.Lock()
		s.synced = true
		s.mu.Unlock()
		return nil
	case <-s.stop: // closed by the watch wrapper: list-only
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.listOnly {
			return nil
		}
		return fmt.Errorf("pod source stopped")
	case <-s.errCh:
		s.close()
		if s.readPodInstead() {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return classify(s.err, "listing pods in "+s.key.namespace)
	case <-ctx.Done():
		s.close()
		return ctx.Err()
	}
}

func (s *podSource) close() { s.stopped.Do(func() { close(s.stop) }) }

// awaitEarly waits, for a source that serves on Restore's pods, for what
// run waits for, and then ends the early pods. A list that fails meanwhile
// is retried by the informer (the early pods go on serving; Start had
// nothing to report it to), but one refused for a pod/NAME target turns
// the source list-only, as in run.
func (s *podSource) awaitEarly(synced <-chan struct{}) {
	errCh := s.errCh
	for {
		select {
		case <-synced:
			s.mu.Lock()
			s.synced = true
			s.mu.Unlock()
			s.endEarly()
			return
		case <-s.stop: // the last release, or list-only
			s.endEarly()
			return
		case <-errCh:
			errCh = nil
			if s.readPodInstead() {
				s.close()
				continue
			}
			s.mu.Lock()
			err := s.err
			s.mu.Unlock()
			s.log.Warn("listing pods failed after the agent restarted: serving on the pods of before until a list succeeds", "error", err)
		}
	}
}

// readPodInstead turns the source list-only when its first list was
// forbidden and it serves a pod/NAME target: reading that one pod was
// allowed (resolveTarget did it), so it is read per connection.
func (s *podSource) readPodInstead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !apierrors.IsForbidden(s.err) || s.res.podName == "" {
		return false
	}
	s.log.Info("listing pods is forbidden: reading the pod per connection instead", "namespace", s.key.namespace, "pod", s.res.podName)
	s.listOnly = true
	return true
}

// endEarly drops the early pods; once the source synced, the tunnels to
// those of them it did not list as Ready close (a pod deleted or turned
// not Ready while no agent ran).
func (s *podSource) endEarly() {
	s.mu.Lock()
	early, store, synced := s.early, s.store, s.synced
	s.early = nil
	s.mu.Unlock()
	if synced {
		for _, p := range early {
			ref := podRef{p.Name, p.UID}
			obj, ok, _ := store.GetByKey(p.Namespace + "/" + p.Name)
			pod, _ := obj.(*corev1.Pod)
			why := ""
			switch {
			case !ok || pod == nil || pod.UID != p.UID:
				why = "pod gone while the agent was down"
			case pod.DeletionTimestamp != nil: // still listed while it terminates
				why = "pod deleted while the agent was down"
			case !eligible(pod):
				why = reasonNotReady
			default:
				continue
			}
			s.log.Info("a pod served on since the restart is not among the Ready pods listed: closing its tunnel", "pod", p.Name, "reason", why)
			s.onGone(s.key.clients, s.key.namespace, ref, why)
		}
	}
	s.notify()
}

// listed is the pod of key as this source listed it, nil if it did not.
func (s *podSource) listed(key tunnelKey) *corev1.Pod {
	if key.clients != s.key.clients || key.namespace != s.key.namespace {
		return nil
	}
	s.mu.Lock()
	store, early := s.store, s.early
	s.mu.Unlock()
	if store == nil {
		return nil
	}
	obj, ok, _ := store.GetByKey(key.namespace + "/" + key.pod.name)
	if pod, _ := obj.(*corev1.Pod); ok && pod != nil && pod.UID == key.pod.uid {
		return pod
	}
	for _, p := range early { // not listed yet: as Restore had it
		if p.Name == key.pod.name && p.UID == key.pod.uid {
			return p
		}
	}
	return nil
}

// notify wakes everyone waiting for a change.
func (s *podSource) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *podSource) onUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	newPod, ok2 := newObj.(*corev1.Pod)
	if ok1 && ok2 && oldPod.UID == newPod.UID && keepsTunnel(oldPod) && !keepsTunnel(newPod) {
		s.onGone(s.key.clients, s.key.namespace, podRef{newPod.Name, newPod.UID}, reasonNotReady)
	}
	if ok1 && ok2 && oldPod.UID != newPod.UID {
		s.onGone(s.key.clients, s.key.namespace, podRef{oldPod.Name, oldPod.UID}, "pod replaced")
	}
	if ok2 {
		s.maybeStarting(newPod)
	}
	s.notify()
}

// maybeStarting tells onStarting of pod, once, if it runs but is not
// Ready.
func (s *podSource) maybeStarting(pod *corev1.Pod) {
	if s.onStarting == nil || !starting(pod) {
		return
	}
	s.mu.Lock()
	if s.told[pod.UID] {
		s.mu.Unlock()
		return
	}
	if s.told == nil {
		s.told = map[types.UID]bool{}
	}
	s.told[pod.UID] = true
	s.mu.Unlock()
	s.onStarting(s, pod)
}

// tunnelKey is the key of the tunnel to pod of s.
func (s *podSource) tunnelKey(pod *corev1.Pod) tunnelKey {
	return tunnelKey{clients: s.key.clients, namespace: s.key.namespace, pod: podRef{pod.Name, pod.UID}}
}

// inUse reports whether a Ready pod of s has an open tunnel through e.
func (s *podSource) inUse(e *Engine) bool {
	s.mu.Lock()
	store := s.store
	s.mu.Unlock()
	if store == nil {
		return false
	}
	for _, obj := range store.List() {
		if pod, ok := obj.(*corev1.Pod); ok && eligible(pod) && e.openTunnel(s.tunnelKey(pod)) != nil {
			return true
		}
	}
	return false
}

func (s *podSource) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		s.onGone(s.key.clients, s.key.namespace, podRef{pod.Name, pod.UID}, "pod deleted")
		s.mu.Lock()
		delete(s.told, pod.UID)
		s.mu.Unlock()
	}
	s.notify()
}

// snapshot returns the eligible pods (sorted by name) and a channel closed
// at the next change. Until a source with early pods synced, they are its
// pods. In list-only mode it lists (one API call) and the channel is nil.
func (s *podSource) snapshot(ctx context.Context) ([]*corev1.Pod, <-chan struct{}, error) {
	s.mu.Lock()
	listOnly, store, changed, early := s.listOnly, s.store, s.changed, s.early
	s.mu.Unlock()
	var objs []any
	switch {
	case len(early) > 0:
		for _, p := range early {
			objs = append(objs, p)
		}
	case listOnly && s.res.podName != "":
		pod, err := s.key.clients.API.GetPod(ctx, s.key.namespace, s.res.podName)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, nil, classify(err, "reading pod "+s.key.namespace+"/"+s.res.podName)
		}
		if err == nil {
			objs = append(objs, pod)
		}
		changed = nil
	case listOnly:
		list, err := s.key.clients.API.ListPods(ctx, s.key.namespace, s.res.listOptions())
		if err != nil {
			return nil, nil, classify(err, "listing pods in "+s.key.namespace)
		}
		for i := range list.Items {
			objs = append(objs, &list.Items[i])
		}
		changed = nil
	default:
		objs = store.List()
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && s.res.matches(p) && eligible(p) {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, changed, nil
}

// listPollInterval is how often a connection waiting for a Ready pod lists
// again in list-only mode (no watch to wake it).
const listPollInterval = 500 * time.Millisecond
