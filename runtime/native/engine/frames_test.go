package engine

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/moby/spdystream/spdy"
	"k8s.io/client-go/tools/portforward"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// writesConn records each Write it gets.
type writesConn struct {
	net.Conn
	writes [][]byte
}

func (w *writesConn) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestFrameConnOneWritePerFrame: spdystream's framer, writing through a
// frameConn, gives the connection exactly the bytes it would have written
// itself, in one Write per frame (the framer writes a data frame in three
// pieces, a control frame in more); bytes that are not SPDY frames pass
// through unchanged.
func TestFrameConnOneWritePerFrame(t *testing.T) {
	frames := []struct {
		name  string
		frame spdy.Frame
	}{
		// One header each: the framer writes a header block in map order,
		// so two framers given two headers may compress them differently.
		{"syn stream", &spdy.SynStreamFrame{StreamId: 1, Headers: http.Header{"Streamtype": {"data"}}}},
		{"data", &spdy.DataFrame{StreamId: 1, Data: bytes.Repeat([]byte("x"), 32<<10)}},
		{"small data", &spdy.DataFrame{StreamId: 3, Data: []byte("GET / HTTP/1.1\r\n\r\n")}},
		{"empty data with FIN", &spdy.DataFrame{StreamId: 1, Flags: spdy.DataFlagFin}},
		{"big data", &spdy.DataFrame{StreamId: 5, Data: bytes.Repeat([]byte("y"), 200<<10)}},
		{"ping", &spdy.PingFrame{Id: 7}},
		{"rst stream", &spdy.RstStreamFrame{StreamId: 1, Status: spdy.Cancel}},
		{"syn reply", &spdy.SynReplyFrame{StreamId: 2, Headers: http.Header{"A": {"b"}}}},
		{"go away", &spdy.GoAwayFrame{LastGoodStreamId: 5}},
	}
	var want bytes.Buffer
	plain, err := spdy.NewFramer(&want, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &writesConn{}
	fc := newFrameConn(rec)
	framer, err := spdy.NewFramer(fc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := plain.WriteFrame(f.frame); err != nil {
			t.Fatal(err)
		}
		if err := framer.WriteFrame(f.frame); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if len(rec.writes) != i+1 {
			t.Fatalf("after the %s frame: %d writes, want %d (one per frame)", f.name, len(rec.writes), i+1)
		}
	}
	if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the connection got %d bytes that differ from the framer's own %d", len(got), want.Len())
	}

	// Not frames: a write longer than a header passes through at once.
	rec = &writesConn{}
	fc = newFrameConn(rec)
	junk := []byte("0123456789abcdef")
	for range 2 {
		if n, err := fc.Write(junk); n != len(junk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if len(rec.writes) != 2 || !bytes.Equal(bytes.Join(rec.writes, nil), append(junk, junk...)) {
		t.Errorf("bytes that are not frames: %q, want them passed through", rec.writes)
	}
}

// TestFramedSPDYUpgrade: the SPDY round tripper that writes frames whole
// upgrades as k8s.io/streaming's does and keeps what the server sent
// right after its answer (a ping here: it is answered); an answer that
// is not an upgrade to SPDY/3.1 is refused with the server's words.
func TestFramedSPDYUpgrade(t *testing.T) {
	var ping bytes.Buffer
	framer, err := spdy.NewFramer(&ping, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := framer.WriteFrame(&spdy.PingFrame{Id: 2}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		answer  string
		wantErr string // "": upgraded
	}{
		{"upgrade, then a ping at once", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n" + ping.String(), ""},
		{"refused", "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", "nope"},
		{"another protocol", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n", "unable to upgrade"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			echoed := make(chan spdy.Frame, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, tt.answer) // one write: the ping rides with the answer
				f, err := spdy.NewFramer(c, c)
				if err != nil {
					return
				}
				fr, err := f.ReadFrame()
				if err == nil {
					echoed <- fr
				}
			}()
			inner, err := streamspdy.NewRoundTripperWithConfig(streamspdy.RoundTripperConfig{Proxier: http.ProxyURL(nil)})
			if err != nil {
				t.Fatal(err)
			}
			rt := &framedSPDY{SpdyRoundTripper: inner}
			req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/portforward", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := rt.NewConnection(resp)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewConnection() error = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			select {
			case fr := <-echoed:
				if p, ok := fr.(*spdy.PingFrame); !ok || p.Id != 2 {
					t.Errorf("the server got %#v back, want its ping 2", fr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the ping sent with the upgrade's answer was never answered")
			}
		})
	}
}

// recordConn records the length of each Write.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, len(p))
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// TestUpFrameFillsTwoTLSRecords: a data frame of upFrame bytes, as the
// WebSocket tunnel writes it (SPDY header, masked WebSocket frame), is one
// write of exactly two TLS records' worth (2 × 16 KiB); on plain SPDY it
// is a little less. One byte more and TLS would write a third record.
func TestUpFrameFillsTwoTLSRecords(t *testing.T) {
	const twoRecords = 2 * 16 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	rec := &recordConn{}
	d := websocket.Dialer{
		ReadBufferSize: 33 << 10, WriteBufferSize: 33 << 10, // as client-go's
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			rec.Conn = c
			return rec, err
		},
	}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rec.mu.Lock()
	rec.writes = nil // the handshake
	rec.mu.Unlock()
	var plain bytes.Buffer
	for _, tt := range []struct {
		name string
		w    io.Writer
	}{
		{"websocket", newFrameConn(portforward.NewTunnelingConnection("test", ws))},
		{"spdy", &plain},
	} {
		framer, err := spdy.NewFramer(tt.w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := framer.WriteFrame(&spdy.DataFrame{StreamId: 1, Data: make([]byte, upFrame)}); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	writes := rec.writes
	rec.mu.Unlock()
	if len(writes) != 1 || writes[0] != twoRecords {
		t.Errorf("websocket: a frame of %d bytes went out as writes %v, want one of %d", upFrame, writes, twoRecords)
	}
	if n := plain.Len(); n > twoRecords {
		t.Errorf("spdy: a frame of %d bytes is %d bytes, more than %d", upFrame, n, twoRecords)
	}
}
