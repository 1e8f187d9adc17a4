package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/kpf-dev/kpf/internal/testwait"
)

// pipeStream is one httpstream.Stream made of two in-memory pipes, with the
// half-close semantics of SPDY streams: Close ends our writing only.
type pipeStream struct {
	headers http.Header
	id      uint32
	r       *io.PipeReader // what the pod side wrote
	w       *io.PipeWriter // to the pod side
	// panics: while above 0, a Read takes one and panics (nil: never).
	panics *atomic.Int64
}

func (s *pipeStream) Read(p []byte) (int, error) {
	if s.panics != nil && takeOne(s.panics) {
		panic("injected: a stream read panicked")
	}
	return s.r.Read(p)
}

// takeOne takes one from n if it is above 0.
func takeOne(n *atomic.Int64) bool {
	for v := n.Load(); v > 0; v = n.Load() {
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
	return false
}
func (s *pipeStream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *pipeStream) Close() error                { return s.w.Close() }
func (s *pipeStream) Reset() error {
	s.w.CloseWithError(errors.New("stream reset"))
	s.r.CloseWithError(errors.New("stream reset"))
	return nil
}
func (s *pipeStream) Headers() http.Header { return s.headers }
func (s *pipeStream) Identifier() uint32   { return s.id }

// podEnd is the pod side of a stream.
type podEnd struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p podEnd) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p podEnd) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p podEnd) Close() error {
	p.w.Close()
	p.r.Close()
	return nil
}

func newStreamPair(h http.Header, id uint32) (*pipeStream, podEnd) {
	toPodR, toPodW := io.Pipe()
	toUsR, toUsW := io.Pipe()
	return &pipeStream{headers: h.Clone(), id: id, r: toUsR, w: toPodW}, podEnd{r: toPodR, w: toUsW}
}

// podHandler plays a pod's port: it gets the data stream's pod end and
// returns a message for the error stream ("" for none) once done.
type podHandler func(pod string, port int32, data io.ReadWriteCloser) string

// bannerHandler answers with the pod's name and a newline, then echoes.
func bannerHandler(ports ...int32) podHandler {
	return func(pod string, port int32, data io.ReadWriteCloser) string {
		for _, p := range ports {
			if p == port {
				defer data.Close()
				if _, err := io.WriteString(data, pod+"\n"); err != nil {
					return ""
				}
				_, _ = io.Copy(data, data)
				return ""
			}
		}
		data.Close()
		return fmt.Sprintf("error forwarding port %d to pod %s: connection refused", port, pod)
	}
}

// halfPair is the first stream of a pair, waiting for the other (the
// kubelet pairs them by request id, in either order).
type halfPair struct {
	end  podEnd
	kind string
}

// fakeConn is an upgraded connection to one pod.
type fakeConn struct {
	d       *fakeDialer
	pod     string
	mu      sync.Mutex
	pairs   map[string]*halfPair // request id → the stream that came first
	streams []*pipeStream
	closed  chan bool
	once    sync.Once
	nextID  uint32
}

func (c *fakeConn) CreateStream(h http.Header) (httpstream.Stream, error) {
	n := c.d.creating.Add(1)
	defer c.d.creating.Add(-1)
	for m := c.d.maxCreating.Load(); n > m && !c.d.maxCreating.CompareAndSwap(m, n); m = c.d.maxCreating.Load() {
	}
	if c.d.failCreate.Load() > 0 {
		c.d.failCreate.Add(-1)
		return nil, errors.New("stream refused")
	}
	if c.d.hangCreate.Load() > 0 {
		// Like spdystream: no reply comes, and closing the connection
		// does not wake the creation.
		c.d.hangCreate.Add(-1)
		c.d.hanging.Add(1)
		<-c.d.unhang
		return nil, errors.New("no reply")
	}
	if rtt := c.d.replyDelay; rtt > 0 {
		time.Sleep(rtt) // the reply's round trip
	}
	select {
	case <-c.closed:
		return nil, errors.New("connection closed")
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID += 2
	s, end := newStreamPair(h, c.nextID)
	if h.Get(corev1.StreamType) == corev1.StreamTypeData {
		s.panics = &c.d.panicRead
	}
	c.streams = append(c.streams, s)
	id, kind := h.Get(corev1.PortForwardRequestIDHeader), h.Get(corev1.StreamType)
	first, ok := c.pairs[id]
	if !ok {
		c.pairs[id] = &halfPair{end: end, kind: kind}
		return s, nil
	}
	delete(c.pairs, id)
	errEnd, dataEnd := first.end, end
	if first.kind == corev1.StreamTypeData {
		errEnd, dataEnd = end, first.end
	}
	port, _ := strconv.Atoi(h.Get(corev1.PortHeader))
	c.d.streams.Add(1)
	go func() {
		msg := c.d.handler(c.pod, int32(port), dataEnd)
		if msg != "" {
			_, _ = io.WriteString(errEnd, msg)
		}
		errEnd.Close()
	}()
	return s, nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.streams {
			s.Reset()
		}
		c.d.closes.Add(1)
	})
	return nil
}

func (c *fakeConn) CloseChan() <-chan bool       { return c.closed }
func (c *fakeConn) SetIdleTimeout(time.Duration) {}
func (c *fakeConn) RemoveStreams(...httpstream.Stream) {
	if takeOne(&c.d.panicRemove) {
		panic("injected: removing streams panicked")
	}
}
func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// fakeDialer hands out fakeConns; failDial makes the next dials fail.
type fakeDialer struct {
	handler    podHandler
	dials      atomic.Int64
	closes     atomic.Int64
	streams    atomic.Int64
	failDial   atomic.Int64
	failCreate atomic.Int64
	hangCreate atomic.Int64 // stream creations that hang until unhang is closed
	hanging    atomic.Int64 // creations hanging so far
	creating   atomic.Int64 // stream creations in progress
	// maxCreating is the most stream creations that were in progress at
	// once; replyDelay, when set, is how long each waits for its reply.
	maxCreating atomic.Int64
	replyDelay  time.Duration
	unhang      chan struct{} // closed when the test ends
	// panicDial, panicRead and panicRemove: that many dials, data stream
	// reads and RemoveStreams calls panic.
	panicDial, panicRead, panicRemove atomic.Int64

	mu    sync.Mutex
	conns []*fakeConn
	// failPod: dials to these pods fail with their error.
	failPod map[string]error
	// holdPod: dials to these pods wait until the channel is closed.
	holdPod  map[string]chan struct{}
	podDials map[string]int
}

// holdDialsTo makes dials to pod wait until the returned function is
// called.
func (d *fakeDialer) holdDialsTo(pod string) (release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holdPod == nil {
		d.holdPod = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	d.holdPod[pod] = ch
	return sync.OnceFunc(func() { close(ch) })
}

// failDialsTo makes every dial to pod fail with err (nil: dials succeed again).
func (d *fakeDialer) failDialsTo(pod string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failPod == nil {
		d.failPod = map[string]error{}
	}
	d.failPod[pod] = err
}

// dialsTo counts the dials to pod so far.
func (d *fakeDialer) dialsTo(pod string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.podDials[pod]
}

func (d *fakeDialer) Dial(ctx context.Context, c *Clients, ns, pod string, _ Transport) (httpstream.Connection, error) {
	d.dials.Add(1)
	if takeOne(&d.panicDial) {
		panic("injected: a dial panicked")
	}
	d.mu.Lock()
	if d.podDials == nil {
		d.podDials = map[string]int{}
	}
	d.podDials[pod]++
	err, hold := d.failPod[pod], d.holdPod[pod]
	d.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-d.unhang:
		}
	}
	if err != nil {
		return nil, err
	}
	if d.failDial.Load() > 0 {
		d.failDial.Add(-1)
		return nil, errors.New("dial refused")
	}
	conn := &fakeConn{d: d, pod: pod, pairs: map[string]*halfPair{}, closed: make(chan bool)}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return conn, nil
}

func (d *fakeDialer) openConns() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.conns {
		if !c.isClosed() {
			n++
		}
	}
	return n
}

// readyPod is a Running, Ready pod with labels and container ports.
func readyPod(ns, name string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
}

func notReady(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	return p
}

// terminating is p being deleted: still listed, with its deletion time.
func terminating(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	// panics: while above 0, Now takes one and panics.
	panics atomic.Int64
}

func (c *fakeClock) Now() time.Time {
	if takeOne(&c.panics) {
		panic("injected: the clock panicked")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is an Engine over a fake clientset and a fake dialer.
type testEnv struct {
	t       *testing.T
	watches atomic.Int64 // pod watches the fake clientset has opened
	kube    *fake.Clientset
	c       *Clients
	dialer  *fakeDialer
	clock   *fakeClock
	e       *Engine
}

func newTestEnv(t *testing.T, opts Options, objs ...kruntime.Object) *testEnv {
	t.Helper()
	kube := fake.NewClientset(objs...)
	env := &testEnv{t: t, kube: kube, c: &Clients{API: clientsetAPI{kube}}, clock: &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
	// The fake's own watch reaction, counted: an informer's list returns
	// before its watch is open, and the fake drops events in between, so
	// tests that change pods right after a start wait for the watch.
	kube.PrependWatchReactor("pods", func(action clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := action.(clienttesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := kube.Tracker().Watch(action.GetResource(), action.GetNamespace(), opts)
		if err != nil {
			return false, nil, err
		}
		env.watches.Add(1)
		return true, w, nil
	})
	env.dialer = &fakeDialer{handler: bannerHandler(8080, 5432), unhang: make(chan struct{})}
	if opts.Dialer == nil {
		opts.Dialer = env.dialer
	}
	if opts.Now == nil {
		opts.Now = env.clock.Now
	}
	if opts.PodWaitTimeout == 0 {
		opts.PodWaitTimeout = 5 * time.Second
	}
	env.e = New(opts)
	t.Cleanup(env.e.Close)
	t.Cleanup(func() { close(env.dialer.unhang) }) // first: nothing stays blocked
	return env
}

// start starts a forward on a free loopback port.
func (env *testEnv) start(cfg Config) *Forward {
	env.t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "demo"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := env.e.Start(ctx, env.c, cfg)
	if err != nil {
		env.t.Fatalf("Start(%+v): %v", cfg, err)
	}
	env.t.Cleanup(func() { _ = f.Stop() })
	return f
}

func (env *testEnv) updatePod(p *corev1.Pod) {
	env.t.Helper()
	if _, err := env.kube.CoreV1().Pods(p.Namespace).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) createPod(p *corev1.Pod) {
	env.t.Helper()
	if _, err := env.kube.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		env.t.Fatal(err)
	}
}

// waitWatching waits (up to a second) until an informer's pod watch is
// open, so that a change made next is seen (see newTestEnv). Tests that
// forbid watching (list-only mode) have none: they go on after the second.
func (env *testEnv) waitWatching() {
	for deadline := time.Now().Add(time.Second); env.watches.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func (env *testEnv) deletePod(ns, name string) {
	env.waitWatching()
	env.t.Helper()
	if err := env.kube.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		env.t.Fatal(err)
	}
}

// eventually polls cond every 5 ms for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 5*time.Second, 5*time.Millisecond, what, cond)
}

// clientsetAPI is API over a typed clientset (client-go's fake, in tests).
type clientsetAPI struct{ kube kubernetes.Interface }

func (a clientsetAPI) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return a.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a clientsetAPI) ListPods(ctx context.Context, ns string, opts metav1.ListOptions) (*corev1.PodList, error) {
	return a.kube.CoreV1().Pods(ns).List(ctx, opts)
}

func (a clientsetAPI) WatchPods(ctx context.Context, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	return a.kube.CoreV1().Pods(ns).Watch(ctx, opts)
}

func (a clientsetAPI) GetService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	return a.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a clientsetAPI) ListServices(ctx context.Context, ns string) (*corev1.ServiceList, error) {
	return a.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
}

func (a clientsetAPI) GetDeployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	return a.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a clientsetAPI) ListDeployments(ctx context.Context, ns string) (*appsv1.DeploymentList, error) {
	return a.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
}

func (a clientsetAPI) ListStatefulSets(ctx context.Context, ns string) (*appsv1.StatefulSetList, error) {
	return a.kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
}

func (a clientsetAPI) GetStatefulSet(ctx context.Context, ns, name string) (*appsv1.StatefulSet, error) {
	return a.kube.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a clientsetAPI) PortForwardURL(ns, pod string) *url.URL {
	return &url.URL{Scheme: "https", Host: "fake", Path: "/api/v1/namespaces/" + ns + "/pods/" + pod + "/portforward"}
}
