package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// TunnelDialer opens one upgraded connection to a pod's portforward
// subresource over transport t (the Clients', else the engine's; never
// empty). The engine's default dials the API server; tests substitute
// their own.
type TunnelDialer interface {
	Dial(ctx context.Context, c *Clients, namespace, pod string, t Transport) (httpstream.Connection, error)
}

// Transport is how a tunnel reaches a pod through the API server.
type Transport string

// Transports. SPDY is the default because it measured faster than
// WebSocket in every run of `make dataplane` (bulk, round trips, CPU per
// byte; docs/performance.md) and costs the API server no translation; WebSocket stays a first-class
// path, for API servers and proxies that refuse SPDY (deprecated upstream).
const (
	// TransportAuto dials SPDY, and SPDY over WebSocket when the SPDY
	// upgrade is refused (spdyRefused); once it was refused and the
	// WebSocket upgrade then worked, the Clients' later tunnels go as
	// TransportWebSocket.
	TransportAuto Transport = "auto"
	// TransportWebSocket dials SPDY over WebSocket, and SPDY when that
	// upgrade fails: kubectl's default since 1.31.
	TransportWebSocket Transport = "websocket"
	// TransportSPDY dials SPDY only.
	TransportSPDY Transport = "spdy"
)

// ParseTransport reads a transport's name; "" is TransportAuto.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(strings.ToLower(strings.TrimSpace(s))); t {
	case "":
		return TransportAuto, nil
	case TransportAuto, TransportWebSocket, TransportSPDY:
		return t, nil
	}
	return "", fmt.Errorf("unknown transport %q (auto, spdy or websocket)", s)
}

// KubeDialer dials through the API server. It builds new dialers for every
// dial: client-go's dialers are not safe for concurrent Dial.
type KubeDialer struct{}

// Dial implements TunnelDialer. client-go's Dial takes no context: when ctx
// ends first, Dial returns and the connection, if it still arrives, is
// closed.
func (KubeDialer) Dial(ctx context.Context, c *Clients, namespace, pod string, t Transport) (httpstream.Connection, error) {
	u := c.API.PortForwardURL(namespace, pod)
	spdyDialer := dialerFunc(func(protocols ...string) (httpstream.Connection, string, error) {
		transport, upgrader, err := spdyTransport(c.Config)
		if err != nil {
			return nil, "", fmt.Errorf("building the SPDY transport: %w", err)
		}
		return spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u).Dial(protocols...)
	})
	wsDialer := dialerFunc(func(protocols ...string) (httpstream.Connection, string, error) {
		ws, err := newWSDialer(u, c.Config)
		if err != nil {
			return nil, "", fmt.Errorf("building the WebSocket dialer: %w", err)
		}
		return ws.Dial(protocols...)
	})
	var dialer httpstream.Dialer
	switch {
	case t == TransportSPDY:
		dialer = spdyDialer
	case t == TransportWebSocket || c.spdyRefused.Load():
		// The streaming variants, as kubectl 1.36: the WebSocket dialer
		// reports k8s.io/streaming's UpgradeFailureError, which
		// apimachinery's IsUpgradeFailure does not recognise, so the plain
		// NewFallbackDialer never falls back (a user allowed only create
		// on pods/portforward then cannot forward at all).
		dialer = portforward.NewFallbackDialerForStreaming(wsDialer, spdyDialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	default:
		dialer = dialerFunc(func(protocols ...string) (httpstream.Connection, string, error) {
			conn, protocol, err := spdyDialer.Dial(protocols...)
			if err == nil || !spdyRefused(err) {
				return conn, protocol, err
			}
			conn, protocol, wsErr := wsDialer.Dial(protocols...)
			if wsErr != nil {
				return nil, "", fmt.Errorf("%w (and over WebSocket: %v)", err, wsErr)
			}
			c.spdyRefused.Store(true)
			return conn, protocol, nil
		})
	}
	type result struct {
		conn httpstream.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = recovered("dialing pod "+pod, p)
			}
			done <- r
		}()
		r.conn, _, r.err = dialer.Dial(portforward.PortForwardProtocolV1Name)
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				_ = r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// spdyTransport is client-go's spdy.RoundTripperFor on k8s.io/streaming's
// round tripper (apimachinery's wrapper of it is deprecated) with its
// frames written whole (framedSPDY), and the upgrader wrapped in
// statusUpgrader.
func spdyTransport(cfg *rest.Config) (http.RoundTripper, spdy.Upgrader, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = cfg.Proxy
	}
	const pingPeriod = 5 * time.Second // as client-go
	spdyRT, err := streamspdy.NewRoundTripperWithConfig(streamspdy.RoundTripperConfig{
		TLS: tlsConfig, Proxier: proxy, PingPeriod: pingPeriod,
	})
	if err != nil {
		return nil, nil, err
	}
	rt := &framedSPDY{SpdyRoundTripper: spdyRT, pingPeriod: pingPeriod}
	transport, err := rest.HTTPWrappersForConfig(cfg, rt)
	if err != nil {
		return nil, nil, err
	}
	return transport, spdy.NewUpgraderForStreaming(statusUpgrader{rt}), nil
}

// statusUpgrader keeps the API server's answer to a refused SPDY upgrade
// as an API status error — its code and reason — where client-go reduces
// it to text: the engine tells a pod that is gone (not found) from a user
// who may not port-forward (forbidden) by it.
type statusUpgrader struct {
	httpstream.UpgradeRoundTripper
}

func (u statusUpgrader) NewConnection(resp *http.Response) (httpstream.Connection, error) {
	if resp.StatusCode < http.StatusBadRequest {
		return u.UpgradeRoundTripper.NewConnection(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("unable to upgrade connection: %s, reading the answer: %w", resp.Status, err)
	}
	return nil, fmt.Errorf("unable to upgrade connection: %w", upgradeRefused(resp.StatusCode, body))
}

// spdyRefused reports whether err says that the SPDY upgrade itself was
// refused, so that a WebSocket upgrade may succeed: an error status that
// is not about the user or the pod (401, 403 and 404 hold for both
// transports), or an answer that is no SPDY upgrade at all (a proxy that
// does not pass one on; framedSPDY). A failed dial, TLS handshake or
// connection is not: the WebSocket upgrade would fail the same way.
func spdyRefused(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		switch st.Status().Code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return false
		}
		return st.Status().Code >= http.StatusBadRequest
	}
	return httpstream.IsUpgradeFailure(err)
}

// dialerFunc is a function as an httpstream.Dialer.
type dialerFunc func(protocols ...string) (httpstream.Connection, string, error)

// Dial implements httpstream.Dialer.
func (f dialerFunc) Dial(protocols ...string) (httpstream.Connection, string, error) {
	return f(protocols...)
}

// upgradeRefused is the API status error of an upgrade answered with code
// and body (a Status object, or text).
func upgradeRefused(code int, body []byte) error {
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = http.StatusText(code)
		}
		st = metav1.Status{Status: metav1.StatusFailure, Message: msg}
	}
	if st.Code == 0 {
		st.Code = int32(code)
	}
	return &apierrors.StatusError{ErrStatus: st}
}

// opened is the message of a tunnel-open event: why it was dialed (empty:
// for a local connection) and the transport it went over, when known.
func (t *tunnel) opened(why string) string {
	var over string
	if c, ok := t.conn.(claimConn); ok {
		switch c.transport {
		case TransportSPDY:
			over = "over SPDY"
		case TransportWebSocket:
			over = "over WebSocket"
		}
	}
	switch {
	case why == "":
		return over
	case over == "":
		return why
	}
	return why + ", " + over
}

// tunnelKey identifies one pod incarnation reached through one Clients.
type tunnelKey struct {
	clients   *Clients
	namespace string
	pod       podRef
}

// tunnel is one upgraded connection to a pod, shared by every stream of
// every forward to that pod through the same Clients. It is dialed on
// first use and closed after Options.IdleTimeout without streams, when its
// pod goes away, on a failed health check, a stream-creation failure or a
// wall-clock jump.
type tunnel struct {
	e     *Engine
	key   tunnelKey
	ready chan struct{} // closed once the dial ended (conn or err set)
	// creating holds a token per stream creation of a local connection in
	// flight (openPairQueued).
	creating chan struct{}
	conn     httpstream.Connection
	err      error
	gone     chan struct{} // closed by close

	mu      sync.Mutex
	streams int // open stream pairs of local connections
	idle    *time.Timer
	closed  bool
	reason  string
	users   map[*Forward]struct{}
	// draining: the pod is gone; no new streams, close when the last ends
	// (or at the drain deadline).
	draining string
	// checks: the latest health check per (port, kind, path), shared by
	// the forwards that reach this pod (sharedCheck).
	checks map[checkKey]*sharedCall[struct{}]
}

// checkKey is what a health check through a tunnel tests: the same for
// every forward to that pod port with the same check.
type checkKey struct {
	port       int32
	kind, path string
}

// sharedCheck runs check for key, or shares a check of the same key that
// is in flight or began less than maxAge ago, and says how long ago the
// check it returns began (what it saw is that old). Forwards to one pod
// port then cost about one check per interval between them, not one each: 1,000 forwards over 10 services
// made 200 stream pairs a second through 10 tunnels, and their pending
// stream creations held the tunnels' memory after the tunnels closed.
func (t *tunnel) sharedCheck(ctx context.Context, key checkKey, maxAge time.Duration, check func() error) (time.Duration, error) {
	t.mu.Lock()
	if r := t.checks[key]; r != nil && r.begunWithin(maxAge) {
		t.mu.Unlock()
		_, err := r.wait(ctx)
		if err == nil {
			return time.Since(r.began), nil
		}
		return 0, err
	}
	r := newSharedCall[struct{}]()
	if t.checks == nil {
		t.checks = map[checkKey]*sharedCall[struct{}]{}
	}
	t.checks[key] = r
	t.mu.Unlock()
	err := check()
	r.finish(struct{}{}, err)
	return time.Since(r.began), err
}

// closedIdle reports whether t was closed for being idle.
func (t *tunnel) closedIdle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed && t.reason == reasonIdle
}

// errTunnelClosed is returned for streams on a tunnel that closed.
var errTunnelClosed = errors.New("tunnel closed")

// isOpen reports whether t is dialed and not closed.
func (t *tunnel) isOpen() bool {
	select {
	case <-t.ready:
	default:
		return false
	}
	if t.err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.closed && t.draining == ""
}

// use registers a stream pair of a local connection of f; release ends it.
func (t *tunnel) use(f *Forward) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.draining != "" {
		return errTunnelClosed
	}
	t.streams++
	if t.idle != nil {
		t.idle.Stop()
		t.idle = nil
	}
	if t.users == nil {
		t.users = map[*Forward]struct{}{}
	}
	t.users[f] = struct{}{}
	return nil
}

func (t *tunnel) release() {
	t.mu.Lock()
	t.streams--
	last := t.streams == 0 && !t.closed
	draining := t.draining
	if last && draining == "" {
		t.idle = time.AfterFunc(t.e.opts.IdleTimeout, t.idleClose)
	}
	t.mu.Unlock()
	if last && draining != "" {
		t.close(draining)
	}
}

// drain takes t out of service for a pod that is gone: no new streams; it
// closes once its in-flight streams end, at the latest after timeout.
func (t *tunnel) drain(reason string, timeout time.Duration) {
	t.mu.Lock()
	if t.closed || t.draining != "" {
		t.mu.Unlock()
		return
	}
	if t.streams == 0 || timeout <= 0 {
		t.mu.Unlock()
		t.close(reason)
		return
	}
	t.draining = reason
	if t.idle != nil {
		t.idle.Stop()
	}
	t.idle = time.AfterFunc(timeout, func() { t.close(reason + " (drain timeout)") })
	t.mu.Unlock()
}

// addUser records f as a user of t without a stream (health checks), so f
// hears when t closes.
func (t *tunnel) addUser(f *Forward) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = map[*Forward]struct{}{}
	}
	t.users[f] = struct{}{}
}

func (t *tunnel) idleClose() {
	t.mu.Lock()
	idle := t.streams == 0 && !t.closed
	t.mu.Unlock()
	if idle {
		t.close(reasonIdle)
	}
}

const reasonIdle = "idle"

// closeGrace is how long a closed tunnel's connection may go without a
// frame before its streams are reset and it is closed regardless.
const closeGrace = 2 * time.Second

// finishDial publishes the result of t's dial to those waiting for it. A
// tunnel closed while it was being dialed (its pod went away, the engine
// closed) gets no connection: the one that arrived is closed, and the
// waiters hear why.
func (t *tunnel) finishDial(conn httpstream.Connection, err error) {
	t.mu.Lock()
	if err == nil && t.closed {
		go closeQuietly(t.e.log, conn)
		conn, err = nil, fmt.Errorf("%w while being dialed: %s", errTunnelClosed, t.reason)
	}
	t.conn, t.err = conn, err
	if err == nil {
		t.e.tunnelOpened()                                         // under t.mu: a close from now on finds it counted
		t.idle = time.AfterFunc(t.e.opts.IdleTimeout, t.idleClose) // until the first stream
	}
	t.mu.Unlock()
	if err != nil {
		t.e.forgetTunnel(t, false)
	} else {
		go t.watchConn()
	}
	close(t.ready)
}

// close closes the upgraded connection (resetting its streams, so the local
// connections on it end) and tells its forwards why. Safe twice.
func (t *tunnel) close(reason string) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed, t.reason = true, reason
	if reason != reasonIdle {
		for f := range t.users { // before the connections on t can end
			f.lostTunnel.Store(true)
		}
	}
	close(t.gone)
	if t.idle != nil {
		t.idle.Stop()
		t.idle = nil
	}
	users := t.users
	t.users = nil
	conn := t.conn // nil while being dialed: finishDial closes what arrives
	t.mu.Unlock()
	t.e.forgetTunnel(t, conn != nil)
	if conn != nil {
		// spdystream's Close waits until every stream is gone; never make
		// the caller (an informer handler, a health check) wait for it.
		go func() {
			// A stream whose creation the other side never answered (a
			// frozen node or API server: no reset, nothing) stays in
			// spdystream's table for ever, and its Close with it, holding
			// the connection open. An idle timeout makes spdystream reset
			// every stream it still has and close, once nothing has come
			// or gone for closeGrace.
			conn.SetIdleTimeout(closeGrace)
			closeQuietly(t.e.log, conn)
		}()
	}
	for f := range users {
		f.tunnelClosed(t, reason)
	}
}

// openPair creates the error and data streams of one forwarded connection
// to port (kubelet's protocol: same Port and requestID headers). Both are
// asked for at once: the kubelet pairs them by requestID in either order,
// so a connection waits for one round trip to the pod's node instead of
// two, as kubectl does. The error stream is closed for writing at once: we
// never write.
func (t *tunnel) openPair(port int32) (errStream, data httpstream.Stream, err error) {
	id := strconv.FormatUint(t.e.reqID.Add(1), 10)
	headers := func(kind string) http.Header {
		h := http.Header{}
		h.Set(corev1.StreamType, kind)
		h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
		h.Set(corev1.PortForwardRequestIDHeader, id)
		return h
	}
	type created struct {
		s   httpstream.Stream
		err error
	}
	dataDone := make(chan created, 1)
	go func() {
		var c created
		defer func() {
			if r := recover(); r != nil {
				c = created{err: panicked(t.e.log, "creating a data stream", r)}
			}
			dataDone <- c
		}()
		c.s, c.err = t.conn.CreateStream(headers(corev1.StreamTypeData))
	}()
	errStream, errErr := t.conn.CreateStream(headers(corev1.StreamTypeError))
	d := <-dataDone
	if errErr != nil || d.err != nil {
		for _, s := range []httpstream.Stream{errStream, d.s} {
			if s != nil {
				_ = s.Reset()
				t.conn.RemoveStreams(s)
			}
		}
		if errErr != nil {
			return nil, nil, fmt.Errorf("creating the error stream: %w", errErr)
		}
		return nil, nil, fmt.Errorf("creating the data stream: %w", d.err)
	}
	errStream.Close()
	return errStream, d.s, nil
}

// maxCreating bounds the stream creations of local connections in flight
// on one tunnel. A burst of connections (thousands opened at once on one
// forward) otherwise asks the node for thousands of streams at once: their
// replies came too late, their timeouts closed the tunnel, and every other
// connection on it ended. Queued, they wait for a turn (bounded by the
// connection's own deadline), and a creation's timeout measures the path,
// not the queue. Health checks do not queue: they measure the path.
const maxCreating = 64

// openPairQueued is openPairWait once fewer than maxCreating creations of
// local connections are in flight on t.
func (t *tunnel) openPairQueued(ctx context.Context, port int32, timeout time.Duration) (errStream, data httpstream.Stream, err error) {
	select {
	case t.creating <- struct{}{}:
	case <-t.gone:
		return nil, nil, errTunnelClosed
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-t.creating }()
	return t.openPairWait(ctx, port, timeout)
}

// errStreamTimeout means the other side did not answer a stream creation
// in time: the tunnel is taken for dead.
var errStreamTimeout = errors.New("no answer to the stream creation")

// openPairWait is openPair bounded by the tunnel's life, timeout and ctx.
// Closing an upgraded connection does not wake a stream creation waiting
// for the other side's reply (client-go waits up to 30 s, spdystream
// forever), so a connection that asked for streams just as its pod went
// away would hang: it returns errTunnelClosed at once instead, and
// errStreamTimeout after timeout. Streams created after it gave up are
// reset.
func (t *tunnel) openPairWait(ctx context.Context, port int32, timeout time.Duration) (errStream, data httpstream.Stream, err error) {
	type pair struct {
		errStream, data httpstream.Stream
		err             error
	}
	done := make(chan pair, 1)
	go func() {
		var p pair
		defer func() {
			if r := recover(); r != nil {
				p = pair{err: panicked(t.e.log, "opening streams", r)}
			}
			done <- p
		}()
		p.errStream, p.data, p.err = t.openPair(port)
	}()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case p := <-done:
		return p.errStream, p.data, p.err
	case <-t.gone:
		err = errTunnelClosed
	case <-tm.C:
		err = fmt.Errorf("%w within %s", errStreamTimeout, timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	go func() {
		if p := <-done; p.err == nil {
			_ = p.data.Reset()
			_ = p.errStream.Reset()
			t.conn.RemoveStreams(p.errStream, p.data)
		}
	}()
	return nil, nil, err
}

// watchConn closes t when its connection ends from the other side (API
// server gone, keep-alive pings unanswered).
func (t *tunnel) watchConn() {
	<-t.conn.CloseChan()
	t.close("connection lost")
}
