//go:build linux

package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func dialServer(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port()), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func TestServerHTTP(t *testing.T) {
	t.Parallel()
	s, err := NewServer("web-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	base := "http://127.0.0.1:" + strconv.Itoa(s.Port())
	for _, tt := range []struct {
		path string
		code int
	}{
		{"/healthz", 200}, {"/", 200}, {"/any/thing?x=1", 200},
		{"/status/503", 503}, {"/status/404", 404}, {"/status/nope", 200}, {"/status/99", 200},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || string(body) != "web-1\n" {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.code, "web-1\n")
		}
	}
	// Two requests on one connection (keep-alive).
	c := dialServer(t, s)
	br := bufio.NewReader(c)
	for i := range 2 {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "web-1\n" {
			t.Errorf("request %d body %q", i, body)
		}
	}
}

func TestServerSpeaksFirstThenEchoes(t *testing.T) {
	t.Parallel()
	s, err := NewServer("db-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := dialServer(t, s)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "db-0\n" {
		t.Fatalf("banner = %q, %v; want %q", line, err, "db-0\n")
	}
	if _, err := io.WriteString(c, "SELECT 1;\n"); err != nil {
		t.Fatal(err)
	}
	if line, err = br.ReadString('\n'); err != nil || line != "SELECT 1;\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
}

func TestServerNonHTTPClientFirst(t *testing.T) {
	t.Parallel()
	s, err := NewServer("db-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := dialServer(t, s)
	if _, err := io.WriteString(c, "\x00\x00\x00\x08hello\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "db-0\n" {
		t.Fatalf("first line = %q, %v; want the pod name", line, err)
	}
	if line, err = br.ReadString('\n'); err != nil || line != "\x00\x00\x00\x08hello\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
}

func TestServerCloseDropsConnections(t *testing.T) {
	t.Parallel()
	s, err := NewServer("db-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dialServer(t, s)
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("connection still open after Close")
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port()), time.Second); err == nil {
		t.Error("still listening after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestServerShutdownFinishesRequests: a deleted pod's graceful exit. The
// request in progress is answered (with Connection: close), so is a new
// connection's first one; an idle keep-alive connection ends at once; a
// stream ends after the grace; no new connection is taken.
func TestServerShutdownFinishesRequests(t *testing.T) {
	t.Parallel()
	s, err := NewServer("web-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	get := "GET / HTTP/1.1\r\nHost: kpf\r\n\r\n"

	idle := dialServer(t, s) // one request answered, then idle
	idleBR := bufio.NewReader(idle)
	if _, err := io.WriteString(idle, get); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(idleBR, nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	stream := dialServer(t, s)
	streamBR := bufio.NewReader(stream)
	if _, err := streamBR.ReadString('\n'); err != nil { // the banner: an echo stream now
		t.Fatal(err)
	}
	partial := dialServer(t, s) // half a request when the shutdown comes
	if _, err := io.WriteString(partial, "GET / HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	waitState := func(c net.Conn, want connState) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			s.mu.Lock()
			st, found := connState(-1), false
			for sc, scst := range s.conns {
				if sc.RemoteAddr().String() == c.LocalAddr().String() {
					st, found = scst, true
				}
			}
			s.mu.Unlock()
			if found && st == want {
				return
			}
		}
		t.Fatalf("connection from %s never reached state %d", c.LocalAddr(), want)
	}
	waitState(idle, connIdle)
	waitState(partial, connActive)
	fresh := dialServer(t, s) // accepted, its request sent after the shutdown
	waitState(fresh, connNew)

	const grace = 500 * time.Millisecond
	shutdown := time.Now()
	s.Shutdown(grace)
	if _, err := io.WriteString(fresh, get); err != nil {
		t.Fatal(err)
	}

	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("the idle keep-alive connection got a byte after Shutdown, want its end")
	}
	if _, err := io.WriteString(partial, "Host: kpf\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"in progress": partial, "new": fresh} {
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the %s request after Shutdown: %v, want its answer", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "web-1\n" || !resp.Close {
			t.Errorf("the %s request: %q, close %v; want the pod's name and Connection: close", name, body, resp.Close)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("the %s connection stayed open after its answer", name)
		}
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port()), time.Second); err == nil {
		t.Error("a new connection was taken after Shutdown")
	}
	if _, err := io.WriteString(stream, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := streamBR.ReadString('\n'); err != nil || line != "ping\n" {
		t.Errorf("the stream within the grace: %q, %v; want its echo", line, err)
	}
	if _, err := streamBR.ReadByte(); err == nil {
		t.Error("the stream got a byte, want its end")
	} else if took := time.Since(shutdown); took < grace {
		t.Errorf("the stream ended %s after Shutdown, before the grace (%s)", took, grace)
	}
}

// fakeAPI serves pod and PortForward lists and records writes.
type fakeAPI struct {
	mu      sync.Mutex
	pods    []pod
	pfs     []portForward
	created []map[string]any
	deleted []string
	patched map[string]map[string]any // pod path → merge patch
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods":
		if got := r.URL.Query().Get("fieldSelector"); got != "spec.nodeName=n1" {
			http.Error(w, "bad selector "+got, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(podList{Items: f.pods})
	case r.Method == http.MethodGet && r.URL.Path == portForwardsPath+"/portforwards":
		_ = json.NewEncoder(w).Encode(portForwardList{Items: f.pfs})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/portforwards"):
		var obj map[string]any
		_ = json.NewDecoder(r.Body).Decode(&obj)
		f.created = append(f.created, obj)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "{}")
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"):
		if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var patch map[string]any
		_ = json.NewDecoder(r.Body).Decode(&patch)
		if f.patched == nil {
			f.patched = map[string]map[string]any{}
		}
		f.patched[r.URL.Path] = patch
		_, _ = io.WriteString(w, "{}")
	case r.Method == http.MethodDelete:
		f.deleted = append(f.deleted, r.URL.Path)
		_, _ = io.WriteString(w, "{}")
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

func testPod(ns, name, uid string, deleting bool, ports ...int32) pod {
	var p pod
	p.Metadata = objectMeta{Name: name, Namespace: ns, UID: uid}
	if deleting {
		ts := "2026-01-01T00:00:00Z"
		p.Metadata.DeletionTimestamp = &ts
	}
	p.Spec.NodeName = "n1"
	p.Status.Phase = "Running"
	p.Spec.Containers = make([]struct {
		Ports []struct {
			Name          string `json:"name"`
			ContainerPort int32  `json:"containerPort"`
		} `json:"ports"`
	}, 1)
	for _, port := range ports {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, struct {
			Name          string `json:"name"`
			ContainerPort int32  `json:"containerPort"`
		}{ContainerPort: port})
	}
	return p
}

func TestBackendsSync(t *testing.T) {
	t.Parallel()
	fake := &fakeAPI{}
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	b := newBackends(&apiClient{base: srv.URL, http: srv.Client()}, "n1", hclog.NewNullLogger())
	t.Cleanup(b.closeAll)
	ctx := context.Background()

	stale := portForward{Metadata: objectMeta{Name: "db-0", Namespace: "ns", UID: "pf-old",
		OwnerReferences: []ownerReference{{Kind: "Pod", UID: "old-db"}}}}
	fake.mu.Lock()
	fake.pods = []pod{
		testPod("ns", "web-a", "u-web", false, 8080, 9090),
		testPod("ns", "db-0", "new-db", false, 5432),
		testPod("ns", "gone", "u-gone", true, 80),
		testPod("ns", "noports", "u-np", false),
	}
	fake.pfs = []portForward{stale}
	fake.mu.Unlock()

	if err := b.sync(ctx); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	if len(fake.created) != 1 {
		t.Fatalf("created %d port forwards, want 1 (web-a): %v", len(fake.created), fake.created)
	}
	meta := fake.created[0]["metadata"].(map[string]any)
	if meta["name"] != "web-a" || meta["namespace"] != "ns" {
		t.Errorf("created %v, want ns/web-a", meta)
	}
	owners := meta["ownerReferences"].([]any)
	if len(owners) != 1 || owners[0].(map[string]any)["uid"] != "u-web" || owners[0].(map[string]any)["kind"] != "Pod" {
		t.Errorf("owner references %v, want the pod u-web", owners)
	}
	forwards := fake.created[0]["spec"].(map[string]any)["forwards"].([]any)
	if len(forwards) != 2 {
		t.Fatalf("forwards %v, want one per container port", forwards)
	}
	for _, fw := range forwards {
		target := fw.(map[string]any)["target"].(map[string]any)
		port := int(target["port"].(float64))
		if target["address"] != "127.0.0.1" {
			t.Errorf("target address %v", target["address"])
		}
		// The target really serves the pod's name.
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			t.Fatalf("dialing the backend: %v", err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line != "web-a\n" {
			t.Errorf("backend says %q, %v", line, err)
		}
	}
	if len(fake.deleted) != 1 || !strings.HasSuffix(fake.deleted[0], "/namespaces/ns/portforwards/db-0") {
		t.Errorf("deleted %v, want the stale db-0 port forward", fake.deleted)
	}
	// Backed pods (and pods with nothing to serve) are marked for kwok's
	// pod-ready stage, for their UID only; db-0 waits for its own PortForward.
	wantPatched := map[string]string{"/api/v1/namespaces/ns/pods/web-a": "u-web", "/api/v1/namespaces/ns/pods/noports": "u-np"}
	if len(fake.patched) != len(wantPatched) {
		t.Errorf("patched %v, want %v", fake.patched, wantPatched)
	}
	for path, uid := range wantPatched {
		meta, _ := fake.patched[path]["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		if meta["uid"] != uid || ann[BackedAnnotation] != "true" {
			t.Errorf("patch of %s: %v, want uid %s and %s: \"true\"", path, fake.patched[path], uid, BackedAnnotation)
		}
	}
	fake.patched = nil
	// Next pass: the stale rule is gone, db-0 gets its own; web-a's pod goes away.
	fake.pfs = nil
	fake.created = nil
	fake.pods = fake.pods[1:2]
	fake.mu.Unlock()

	webPorts := map[int]bool{}
	b.mu.Lock()
	for _, s := range b.pods["u-web"].servers {
		webPorts[s.Port()] = true
	}
	b.mu.Unlock()

	if err := b.sync(ctx); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	if len(fake.created) != 1 || fake.created[0]["metadata"].(map[string]any)["name"] != "db-0" {
		t.Errorf("second pass created %v, want db-0", fake.created)
	}
	if _, ok := fake.patched["/api/v1/namespaces/ns/pods/db-0"]; !ok || len(fake.patched) != 1 {
		t.Errorf("second pass patched %v, want db-0 marked backed", fake.patched)
	}
	fake.mu.Unlock()
	b.mu.Lock()
	_, webStill := b.pods["u-web"]
	b.mu.Unlock()
	if webStill {
		t.Error("web-a still backed after its pod went away")
	}
	for port := range webPorts {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.Close()
			t.Errorf("web-a's server on %d still listening", port)
		}
	}
}

func TestServerSinkAndSource(t *testing.T) {
	t.Parallel()
	s, err := NewServer("bulk-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, tt := range []struct {
		name, hello string
		// sink: 3 MiB and a bit sent after hello get 3 acks and no more
		// (no greeting, no echo); source: the client reads zero bytes.
		sink bool
	}{
		{"sink", SinkRequest, true},
		{"source", SourceRequest, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialServer(t, s)
			hello := []byte(tt.hello)
			if !tt.sink {
				hello = binary.BigEndian.AppendUint64(hello, 1<<20)
			}
			if _, err := c.Write(hello); err != nil {
				t.Fatal(err)
			}
			if tt.sink {
				if _, err := c.Write(make([]byte, 3*SinkAckEvery+100)); err != nil {
					t.Fatal(err)
				}
				acks := make([]byte, 3)
				if _, err := io.ReadFull(c, acks); err != nil || string(acks) != "kkk" {
					t.Fatalf("acks = %q, %v; want kkk", acks, err)
				}
				_ = c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
				n, err := c.Read(make([]byte, 64))
				var ne net.Error
				if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("the sink answered %d more bytes, %v; want nothing", n, err)
				}
				return
			}
			buf := make([]byte, 1<<20)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			for i, b := range buf {
				if b != 0 {
					t.Fatalf("byte %d of the source is %#x, want 0 (no greeting)", i, b)
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
			if n, err := c.Read(make([]byte, 64)); n != 0 {
				t.Fatalf("the source sent %d bytes more than asked (%v)", n, err)
			}
		})
	}
}
