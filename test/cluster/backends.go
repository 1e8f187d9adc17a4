//go:build linux

package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// speakFirstAfter is how long a backend waits for the client's first byte
// before it speaks first (like a database greeting).
const speakFirstAfter = 200 * time.Millisecond

// Server plays one container port of a pod on 127.0.0.1: an HTTP client gets
// "200 OK" with body "<name>\n" for any path (NNN for /status/NNN); a client that sends nothing for
// ~200 ms gets "<name>\n" first and then an echo of what it sends; one that
// starts with SinkRequest or SourceRequest gets a sink or a source; any other
// client gets "<name>\n" and an echo too.
type Server struct {
	name string
	ln   net.Listener
	log  hclog.Logger

	mu       sync.Mutex
	conns    map[net.Conn]connState
	closed   bool
	draining bool // Shutdown was called: no new connections, no keep-alive
	wg       sync.WaitGroup
}

// connState is where a connection stands, for Shutdown.
type connState int

const (
	connNew    connState = iota // accepted, its first request not read yet
	connActive                  // a request being answered, or a stream (echo, sink, source)
	connIdle                    // HTTP keep-alive between two requests
)

// NewServer listens on a free 127.0.0.1 port and serves name.
func NewServer(name string, log hclog.Logger) (*Server, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for %s: %w", name, err)
	}
	s := &Server{name: name, ln: ln, log: log, conns: map[net.Conn]connState{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Shutdown is a container's graceful exit on SIGTERM, what a Kubernetes
// rollout expects of a pod it deletes (as Go's http.Server.Shutdown does
// it): the server stops listening at once, closes its idle keep-alive
// connections, answers the request in progress on each other connection
// (a new connection's first request included) and then closes it, and
// closes whatever is left after grace (Close). It does not wait.
func (s *Server) Shutdown(grace time.Duration) {
	s.mu.Lock()
	if s.closed || s.draining {
		s.mu.Unlock()
		return
	}
	s.draining = true
	_ = s.ln.Close()
	for c, st := range s.conns {
		if st == connIdle {
			c.Close()
		}
	}
	s.mu.Unlock()
	time.AfterFunc(grace, func() { _ = s.Close() })
}

// setState records where c stands; it reports false when c is to end now
// instead: it would be idle on a draining server.
func (s *Server) setState(c net.Conn, st connState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == connIdle && s.draining {
		return false
	}
	if _, ok := s.conns[c]; ok {
		s.conns[c] = st
	}
	return true
}

// Close stops listening and closes every open connection, like a container
// that died. Safe to call twice, and after Shutdown.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	if s.draining {
		err = nil // Shutdown closed it
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = connNew
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// SinkRequest, sent first by a client, makes the backend a sink: it reads
// and discards everything and answers one byte per SinkAckEvery bytes read
// (so a client can time bulk transfer towards the pod to its last byte). SourceRequest, followed by a
// big-endian uint64 N, makes it a source: it sends N zero bytes, then waits
// for the client to close (bulk transfer from the pod). Both are 8 bytes, the length
// the backend peeks at.
const (
	SinkRequest   = "DP-SINK\n"
	SourceRequest = "DP-SRCE\n"
)

// SinkAckEvery is how many bytes a sink reads per byte it answers.
const SinkAckEvery = 1 << 20

// sink discards what it reads from r, writing one byte to w per SinkAckEvery.
func sink(w io.Writer, r io.Reader) {
	buf := make([]byte, 64<<10)
	var n int64
	ack := []byte{'k'}
	for {
		m, err := r.Read(buf)
		before := n / SinkAckEvery
		n += int64(m)
		for range n/SinkAckEvery - before {
			if _, werr := w.Write(ack); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// httpMethods are the request lines that make a connection HTTP.
var httpMethods = []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH "}

func (s *Server) serve(c net.Conn) {
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(speakFirstAfter))
	_, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	s.setState(c, connActive)
	switch {
	case err == nil:
		// Wait a moment for a full method token.
		_ = c.SetReadDeadline(time.Now().Add(speakFirstAfter))
		head, _ := br.Peek(8)
		_ = c.SetReadDeadline(time.Time{})
		switch string(head) {
		case SinkRequest:
			_, _ = br.Discard(len(SinkRequest))
			sink(c, br)
			return
		case SourceRequest:
			_, _ = br.Discard(len(SourceRequest))
			var size [8]byte
			if _, err := io.ReadFull(br, size[:]); err != nil {
				return
			}
			if _, err := io.CopyN(c, zeros{}, int64(binary.BigEndian.Uint64(size[:]))); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, br) // until the client closes
			return
		}
		for _, m := range httpMethods {
			if strings.HasPrefix(string(head), m) {
				s.serveHTTP(c, br)
				return
			}
		}
	case errors.As(err, &ne) && ne.Timeout():
	default:
		return
	}
	if _, err := io.WriteString(c, s.name+"\n"); err != nil {
		return
	}
	_, _ = io.Copy(c, br)
}

func (s *Server) serveHTTP(c net.Conn, br *bufio.Reader) {
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		body := s.name + "\n"
		s.mu.Lock()
		last := req.Close || s.draining
		s.mu.Unlock()
		resp := &http.Response{
			StatusCode:    statusFor(req.URL.Path),
			ProtoMajor:    1,
			ProtoMinor:    1,
			Request:       req,
			Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			ContentLength: int64(len(body)),
			Body:          io.NopCloser(strings.NewReader(body)),
			Close:         last,
		}
		if err := resp.Write(c); err != nil || last {
			return
		}
		if !s.setState(c, connIdle) {
			return // draining: the answer given, the connection ends
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		s.setState(c, connActive)
	}
}

// statusFor is the status a backend answers path with: the code NNN for
// /status/NNN (a way for tests to make a health check fail), else 200.
func statusFor(path string) int {
	if code, ok := strings.CutPrefix(path, "/status/"); ok {
		if n, err := strconv.Atoi(code); err == nil && n >= 200 && n <= 599 {
			return n
		}
	}
	return http.StatusOK
}

// backedPod is a pod the harness plays: one server per container port.
type backedPod struct {
	uid, namespace, name string
	servers              map[int32]*Server
}

func (b *backedPod) close() {
	for _, s := range b.servers {
		s.Close()
	}
}

// terminationGrace is how long a deleted pod's servers finish what they
// are answering (Server.Shutdown): the pod's terminationGracePeriodSeconds,
// shortened.
const terminationGrace = time.Second

// terminate is the pod's graceful exit: its deletion began.
func (b *backedPod) terminate() {
	for _, s := range b.servers {
		s.Shutdown(terminationGrace)
	}
}

// backends keeps a local server and a kwok PortForward (owned by the pod)
// for every live pod bound to the node. It is level-based: each pass lists
// pods and PortForwards and converges.
type backends struct {
	api      *apiClient
	node     string
	log      hclog.Logger
	interval time.Duration

	mu   sync.Mutex
	pods map[string]*backedPod // by pod UID
}

func newBackends(api *apiClient, node string, log hclog.Logger) *backends {
	return &backends{api: api, node: node, log: log, interval: 200 * time.Millisecond, pods: map[string]*backedPod{}}
}

// run converges until ctx ends, then closes every server.
func (b *backends) run(ctx context.Context) {
	defer b.closeAll()
	t := time.NewTicker(b.interval)
	defer t.Stop()
	failing := false
	for {
		if err := b.sync(ctx); err != nil && ctx.Err() == nil {
			if !failing {
				b.log.Warn("backends: sync failed (retrying quietly)", "error", err)
			}
			failing = true
		} else if failing {
			b.log.Info("backends: sync recovered")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *backends) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for uid, p := range b.pods {
		p.close()
		delete(b.pods, uid)
	}
}

const portForwardsPath = "/apis/kwok.x-k8s.io/v1alpha1"

func (b *backends) sync(ctx context.Context) error {
	var pods podList
	q := url.Values{"fieldSelector": {"spec.nodeName=" + b.node}}
	if err := b.api.do(ctx, http.MethodGet, "/api/v1/pods?"+q.Encode(), nil, &pods); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	var pfs portForwardList
	if err := b.api.do(ctx, http.MethodGet, portForwardsPath+"/portforwards", nil, &pfs); err != nil {
		return fmt.Errorf("listing port forwards: %w", err)
	}
	live := map[string]*pod{}
	var noPorts []*pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Metadata.DeletionTimestamp != nil || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		if len(p.ports()) == 0 {
			noPorts = append(noPorts, p) // nothing to serve: Ready at once
			continue
		}
		live[p.Metadata.UID] = p
	}
	pfByName := map[string]*portForward{}
	for i := range pfs.Items {
		pf := &pfs.Items[i]
		pfByName[pf.Metadata.Namespace+"/"+pf.Metadata.Name] = pf
	}

	b.mu.Lock()
	for uid, bp := range b.pods {
		if _, ok := live[uid]; !ok {
			b.log.Debug("backends: pod gone or terminating, its servers shut down", "pod", bp.namespace+"/"+bp.name)
			bp.terminate()
			delete(b.pods, uid)
		}
	}
	var errs []error
	for uid, p := range live {
		bp, ok := b.pods[uid]
		if !ok {
			var err error
			bp, err = b.startPod(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			b.pods[uid] = bp
		}
		done, err := b.ensurePortForward(ctx, bp, pfByName[bp.namespace+"/"+bp.name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			if err := b.markBacked(ctx, p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	b.mu.Unlock()
	for _, p := range noPorts {
		if err := b.markBacked(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *backends) startPod(p *pod) (*backedPod, error) {
	bp := &backedPod{uid: p.Metadata.UID, namespace: p.Metadata.Namespace, name: p.Metadata.Name, servers: map[int32]*Server{}}
	for _, port := range p.ports() {
		if _, dup := bp.servers[port]; dup {
			continue
		}
		s, err := NewServer(p.Metadata.Name, b.log)
		if err != nil {
			bp.close()
			return nil, err
		}
		bp.servers[port] = s
	}
	b.log.Debug("backends: serving pod", "pod", bp.namespace+"/"+bp.name)
	return bp, nil
}

// markBacked sets BackedAnnotation on p unless it has it, which lets kwok
// make it Ready. The patch carries p's UID: a newer pod of the same name
// is refused (and marked when a pass sees it).
func (b *backends) markBacked(ctx context.Context, p *pod) error {
	if p.Metadata.Annotations[BackedAnnotation] == "true" {
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{
		"uid":         p.Metadata.UID,
		"annotations": map[string]string{BackedAnnotation: "true"},
	}}
	err := b.api.patch(ctx, "/api/v1/namespaces/"+p.Metadata.Namespace+"/pods/"+p.Metadata.Name, patch)
	if err != nil && !isStatus(err, http.StatusNotFound) && !isStatus(err, http.StatusConflict) && !isStatus(err, http.StatusUnprocessableEntity) {
		return fmt.Errorf("marking pod %s/%s backed: %w", p.Metadata.Namespace, p.Metadata.Name, err)
	}
	return nil
}

// ensurePortForward creates the pod's PortForward, or deletes one left over
// from an earlier pod of the same name (the next pass creates it anew). It
// reports whether the pod's PortForward exists now.
func (b *backends) ensurePortForward(ctx context.Context, bp *backedPod, existing *portForward) (bool, error) {
	path := portForwardsPath + "/namespaces/" + bp.namespace + "/portforwards"
	if existing != nil {
		if ownedBy(existing.Metadata, bp.uid) {
			return true, nil
		}
		err := b.api.do(ctx, http.MethodDelete, path+"/"+bp.name, map[string]any{
			"preconditions": map[string]any{"uid": existing.Metadata.UID},
		}, nil)
		if err != nil && !isStatus(err, http.StatusNotFound) && !isStatus(err, http.StatusConflict) {
			return false, fmt.Errorf("deleting the stale port forward %s/%s: %w", bp.namespace, bp.name, err)
		}
		return false, nil
	}
	var forwards []any
	for port, s := range bp.servers {
		forwards = append(forwards, map[string]any{
			"ports":  []int32{port},
			"target": map[string]any{"address": "127.0.0.1", "port": s.Port()},
		})
	}
	obj := map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "PortForward",
		"metadata": map[string]any{
			"name":      bp.name,
			"namespace": bp.namespace,
			"labels":    map[string]string{"app.kubernetes.io/managed-by": "kpf-testcluster"},
			"ownerReferences": []ownerReference{{
				APIVersion: "v1", Kind: "Pod", Name: bp.name, UID: bp.uid,
			}},
		},
		"spec": map[string]any{"forwards": forwards},
	}
	if err := b.api.do(ctx, http.MethodPost, path, obj, nil); err != nil {
		if isStatus(err, http.StatusConflict) {
			return false, nil // another pod's, of the same name: the next pass sees it
		}
		return false, fmt.Errorf("creating the port forward %s/%s: %w", bp.namespace, bp.name, err)
	}
	b.log.Debug("backends: port forward created", "pod", bp.namespace+"/"+bp.name)
	return true, nil
}

func ownedBy(m objectMeta, uid string) bool {
	for _, o := range m.OwnerReferences {
		if o.Kind == "Pod" && o.UID == uid {
			return true
		}
	}
	return false
}
