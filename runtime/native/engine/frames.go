package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	constants "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/websocket"
	"k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// frameConn writes each SPDY frame to its connection in one Write.
// spdystream's framer writes a frame in pieces — a data frame as its
// stream id (4 bytes), flags and length (4) and data; a control frame in
// five or more pieces — and on the WebSocket tunnel every Write is a
// WebSocket message of its own, and a TLS record: three messages, records
// and syscalls per data frame for kpf and the API server, where one does.
// frameConn reads the frame's length from its header and holds the pieces
// until the frame is whole. The framer writes one frame at a time (under
// its lock) and each frame whole, so nothing is ever held past the end of
// a frame; should the bytes ever not parse as frames, it passes every
// Write through from then on.
//
// Its read side (claims.go) takes the data of the streams local
// connections claimed off the tunnel itself.
type frameConn struct {
	net.Conn
	mu      sync.Mutex
	buf     []byte
	need    int  // bytes still to come of the frame in buf (-1: its header is not whole yet)
	through bool // lost track of the frames: pass writes through

	r      readSide
	smu    sync.Mutex
	claims claimed
}

const spdyHeaderLen = 8

func newFrameConn(c net.Conn) *frameConn {
	fc := &frameConn{Conn: c, need: -1}
	fc.r.rd = bufio.NewReader(c)
	return fc
}

func (c *frameConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.through {
		return c.Conn.Write(p)
	}
	if c.need < 0 { // the header
		if len(c.buf)+len(p) > spdyHeaderLen {
			return c.loseWrites(p)
		}
		c.buf = append(c.buf, p...)
		if len(c.buf) < spdyHeaderLen {
			return len(p), nil
		}
		c.need = int(uint32(c.buf[5])<<16 | uint32(c.buf[6])<<8 | uint32(c.buf[7]))
	} else {
		if len(p) > c.need {
			return c.loseWrites(p)
		}
		c.buf = append(c.buf, p...)
		c.need -= len(p)
	}
	if c.need > 0 {
		return len(p), nil
	}
	// The frame is whole.
	c.sawWrite(c.buf)
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // a rare big frame: do not keep its buffer
	}
	c.buf, c.need = c.buf[:0], -1
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// loseWrites writes what is held and p, and passes every later Write through.
func (c *frameConn) loseWrites(p []byte) (int, error) {
	c.through = true
	c.smu.Lock()
	c.claims.lost = true // the streams kpf opens can no longer be followed: no new claims
	c.smu.Unlock()
	if len(c.buf) > 0 {
		held := c.buf
		c.buf = nil
		if _, err := c.Conn.Write(held); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// wsDialer is client-go's SPDY-over-WebSocket dialer
// (portforward.NewSPDYOverWebsocketDialerForStreaming) with the tunnel
// wrapped in a frameConn.
type wsDialer struct {
	url       *url.URL
	transport http.RoundTripper
	holder    websocket.ConnectionHolder
}

func newWSDialer(u *url.URL, cfg *rest.Config) (*wsDialer, error) {
	transport, holder, err := websocket.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	return &wsDialer{url: u, transport: transport, holder: holder}, nil
}

// Dial implements httpstream.Dialer.
func (d *wsDialer) Dial(protocols ...string) (httpstream.Connection, string, error) {
	req, err := http.NewRequest(http.MethodGet, d.url.String(), nil)
	if err != nil {
		return nil, "", err
	}
	tunneling := make([]string, 0, len(protocols))
	for _, p := range protocols {
		tunneling = append(tunneling, constants.WebsocketsSPDYTunnelingPrefix+p)
	}
	conn, err := websocket.Negotiate(d.transport, d.holder, req, tunneling...)
	if err != nil {
		return nil, "", err
	}
	if conn == nil {
		return nil, "", fmt.Errorf("negotiated websocket connection is nil")
	}
	protocol := strings.TrimPrefix(conn.Subprotocol(), constants.WebsocketsSPDYTunnelingPrefix)
	tc := portforward.NewTunnelingConnection("client", conn)
	fc := newFrameConn(tc)
	sc, err := streamspdy.NewClientConnectionWithPings(fc, portforward.PingPeriod)
	if err != nil {
		return nil, "", err
	}
	return claimConn{Connection: sc, fc: fc, transport: TransportWebSocket}, protocol, nil
}

// framedSPDY is k8s.io/streaming's SPDY round tripper with the upgraded
// connection wrapped in a frameConn, as the WebSocket tunnel is: on plain
// SPDY every Write of spdystream's framer is a TLS record and a syscall of
// its own, three per data frame. It dials and sends the upgrade request
// through the embedded round tripper (its proxies, TLS and dialer), reads
// the answer itself and keeps the connection for NewConnection. One
// framedSPDY serves one dial (as the round tripper it embeds).
type framedSPDY struct {
	*streamspdy.SpdyRoundTripper
	pingPeriod time.Duration
	conn       net.Conn // the upgraded connection, once RoundTrip had an answer
}

// RoundTrip implements http.RoundTripper: the upgrade request.
func (rt *framedSPDY) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header = req.Header.Clone()
	req.Header.Add(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	req.Header.Add(httpstream.HeaderUpgrade, streamspdy.HeaderSpdy31)
	conn, err := rt.Dial(req)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if n := br.Buffered(); n > 0 {
		// The server spoke SPDY right after its answer: those bytes
		// are the tunnel's first.
		held, _ := br.Peek(n)
		conn = &prefixConn{Conn: conn, prefix: bytes.Clone(held)}
	}
	rt.conn = conn
	return resp, nil
}

// NewConnection implements httpstream.UpgradeRoundTripper: the SPDY
// connection over the upgraded one, or the embedded round tripper's error
// for an answer that is not an upgrade to SPDY/3.1.
func (rt *framedSPDY) NewConnection(resp *http.Response) (httpstream.Connection, error) {
	upgraded := resp.StatusCode == http.StatusSwitchingProtocols &&
		strings.Contains(strings.ToLower(resp.Header.Get(httpstream.HeaderConnection)), strings.ToLower(httpstream.HeaderUpgrade)) &&
		strings.Contains(strings.ToLower(resp.Header.Get(httpstream.HeaderUpgrade)), strings.ToLower(streamspdy.HeaderSpdy31))
	if !upgraded || rt.conn == nil {
		if rt.conn != nil {
			rt.conn.Close()
		}
		// Only its refusal (it never reaches its own connection), marked as
		// an upgrade failure: the answer was no SPDY upgrade (a proxy that
		// does not pass one on), so TransportAuto tries WebSocket.
		_, err := rt.SpdyRoundTripper.NewConnection(resp)
		if err == nil {
			err = fmt.Errorf("no SPDY upgrade: %s", resp.Status)
		}
		return nil, &httpstream.UpgradeFailureError{Cause: err}
	}
	fc := newFrameConn(rt.conn)
	sc, err := streamspdy.NewClientConnectionWithPings(fc, rt.pingPeriod)
	if err != nil {
		return nil, err
	}
	return claimConn{Connection: sc, fc: fc, transport: TransportSPDY}, nil
}

// prefixConn reads prefix before the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
