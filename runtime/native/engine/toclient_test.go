package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// frameSource is a data stream that yields frames as spdystream does
// (ReadData), or through Read only (plain); it ends with EOF after the
// last frame, or blocks until reset (hang).
type frameSource struct {
	frames chan []byte
	closed chan struct{}
	once   sync.Once
	unread []byte
}

func newFrameSource(n, size int, hang bool) *frameSource {
	s := &frameSource{frames: make(chan []byte, n), closed: make(chan struct{})}
	for i := range n {
		s.frames <- bytes.Repeat([]byte{byte('a' + i%26)}, size)
	}
	if !hang {
		close(s.frames)
	}
	return s
}

func (s *frameSource) ReadData() ([]byte, error) {
	select {
	case f, ok := <-s.frames:
		if !ok {
			return nil, io.EOF
		}
		return f, nil
	case <-s.closed:
		return nil, errors.New("stream reset")
	}
}

func (s *frameSource) Read(p []byte) (int, error) {
	if len(s.unread) == 0 {
		f, err := s.ReadData()
		if err != nil {
			return 0, err
		}
		s.unread = f
	}
	n := copy(p, s.unread)
	s.unread = s.unread[n:]
	return n, nil
}

func (s *frameSource) Reset()         { s.once.Do(func() { close(s.closed) }) }
func (s *frameSource) remaining() int { return len(s.frames) }

// plainSource hides ReadData: the copy reads with Read.
type plainSource struct{ *frameSource }

func (p plainSource) Read(b []byte) (int, error) { return p.frameSource.Read(b) }

// TestToClientPolicy: what the pod sends reaches the client whole, in
// order; the queue never holds more than its bound and a frame; a client
// that reads slowly gets all of it; one that stops reading while the queue
// is full is reset (errStalled) and the stream is drained on, so the
// tunnel never waits for it; one that stops reading while the queue has
// room keeps its connection; one that is gone ends the copy.
func TestToClientPolicy(t *testing.T) {
	const frame = 16 << 10
	tests := []struct {
		name   string
		frames int
		hang   bool // the pod sends nothing more and keeps its side open
		plain  bool // the stream has no ReadData
		stall  time.Duration
		client string // fast, slow, stalled, late (reads after 3 × stall), gone
		want   error  // nil, errStalled, or any error (errAny)
	}{
		{"fast client", 64, false, false, time.Second, "fast", nil},
		{"fast client, Read only", 64, false, true, time.Second, "fast", nil},
		{"slow client", 32, false, false, 2 * time.Second, "slow", nil},
		{"stalled client", 64, false, false, 100 * time.Millisecond, "stalled", errStalled},
		{"stalled client, Read only", 64, false, true, 100 * time.Millisecond, "stalled", errStalled},
		{"pause with room in the queue", 2, true, false, 100 * time.Millisecond, "late", nil},
		{"client gone", 64, false, false, time.Second, "gone", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFrameSource(tt.frames, frame, tt.hang)
			var r io.Reader = src
			if tt.plain {
				r = plainSource{src}
			}
			local, client := net.Pipe()
			defer client.Close()
			var wrote int
			var mu sync.Mutex
			c := newToClient(r, local, func(n int) { mu.Lock(); wrote += n; mu.Unlock() }, func(string) {}, tt.stall)
			done := make(chan error, 1)
			go func() { done <- c.run() }()

			want := tt.frames * frame
			got := make(chan []byte, 1)
			switch tt.client {
			case "fast", "slow", "late":
				var first, each time.Duration
				switch tt.client {
				case "late":
					first = 3 * tt.stall
				case "slow":
					each = 5 * time.Millisecond
				}
				go func() { got <- readClient(client, want, first, each) }()
			case "gone":
				client.Close()
			}
			if tt.hang { // all sent: the pod then resets its side
				var b []byte
				select {
				case b = <-got:
				case <-time.After(10 * time.Second):
					t.Fatal("the client did not get what the pod sent")
				}
				if len(b) != want {
					t.Errorf("client got %d bytes, want %d", len(b), want)
				}
				src.Reset()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the copy did not end")
			}
			switch {
			case tt.want == errAny && err == nil, tt.want != errAny && tt.hang && err == nil:
				t.Errorf("run() = nil, want an error")
			case tt.want != errAny && !tt.hang && !errors.Is(err, tt.want):
				t.Errorf("run() = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !tt.hang {
				b := <-got
				if !bytes.Equal(b, expected(tt.frames, frame)) {
					t.Errorf("client got %d bytes, not the %d the pod sent in order", len(b), want)
				}
			}
			// After a reset or a failed client the stream is still drained
			// to its end: nothing holds up the tunnel.
			if tt.want != nil && !tt.hang {
				for end := time.Now().Add(10 * time.Second); src.remaining() != 0 && time.Now().Before(end); {
					time.Sleep(time.Millisecond)
				}
				if n := src.remaining(); n != 0 {
					t.Errorf("%d frames left on the stream after the copy ended", n)
				}
			}
			src.Reset()
			c.readerDone()
			c.mu.Lock()
			peak := c.peak
			c.mu.Unlock()
			if peak > clientBuffer+frame {
				t.Errorf("queued up to %d bytes, bound %d plus a frame", peak, clientBuffer)
			}
			if tt.want == errStalled {
				if _, err := client.Read(make([]byte, 1)); err == nil {
					t.Errorf("the stalled client's connection is still open")
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func expected(frames, size int) []byte {
	var b bytes.Buffer
	for i := range frames {
		b.Write(bytes.Repeat([]byte{byte('a' + i%26)}, size))
	}
	return b.Bytes()
}

// tcpPair is a connected pair of loopback TCP connections: local (the
// side toClient writes) and client. buf, when not 0, shrinks local's send
// and client's receive buffer so that a client that does not read fills
// them soon.
func tcpPair(t *testing.T, buf int) (local, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	lc := <-accepted
	if lc == nil {
		t.Fatal("accept failed")
	}
	local, client = lc.(*net.TCPConn), cc.(*net.TCPConn)
	t.Cleanup(func() { local.Close(); client.Close() })
	if buf > 0 {
		_ = local.SetWriteBuffer(buf)
		_ = client.SetReadBuffer(buf)
	}
	return local, client
}

// TestToClientWritesAtOnce: on a real socket, the goroutine that takes a
// frame off the stream writes it to the client itself when the socket has
// room, and queues only what it does not take: a client whose socket
// takes everything never has a byte queued (no hand-off to the writer),
// one that reads slowly gets everything in order through both paths, and
// one that stops reading is still reset.
func TestToClientWritesAtOnce(t *testing.T) {
	tests := []struct {
		name         string
		frames, size int
		buf          int    // socket buffers (0: the system's)
		client       string // fast, slow, stalled
		wantPeak     string // zero, some
		want         error
	}{
		{"the socket takes everything", 32, 1 << 10, 0, "fast", "zero", nil},
		{"slow client", 48, 16 << 10, 32 << 10, "slow", "some", nil},
		{"stalled client", 64, 16 << 10, 32 << 10, "stalled", "some", errStalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFrameSource(tt.frames, tt.size, false)
			local, client := tcpPair(t, tt.buf)
			stall := time.Second
			if tt.client == "stalled" {
				stall = 100 * time.Millisecond
			}
			c := newToClient(src, local, func(int) {}, func(string) {}, stall)
			want := tt.frames * tt.size
			got := make(chan []byte, 1)
			if tt.client != "stalled" {
				var first, each time.Duration
				if tt.client == "slow" {
					first, each = 50*time.Millisecond, time.Millisecond // the socket fills first
				}
				go func() { got <- readClient(client, want, first, each) }()
			}
			done := make(chan error, 1)
			go func() { done <- c.run() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the copy did not end")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("run() = %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				if b := <-got; !bytes.Equal(b, expected(tt.frames, tt.size)) {
					t.Errorf("client got %d bytes, not the %d the pod sent in order", len(b), want)
				}
			}
			src.Reset()
			c.readerDone()
			c.mu.Lock()
			peak := c.peak
			c.mu.Unlock()
			switch {
			case tt.wantPeak == "zero" && peak != 0:
				t.Errorf("%d bytes were queued for a client whose socket took everything at once", peak)
			case tt.wantPeak == "some" && peak == 0:
				t.Errorf("nothing was queued, yet the client's socket was full")
			case peak > clientBuffer+tt.size:
				t.Errorf("queued up to %d bytes, bound %d plus a frame", peak, clientBuffer)
			}
		})
	}
}

// readClient is a local client reading want bytes from conn (or until an
// error): it waits first before its first read and each after every read.
func readClient(conn net.Conn, want int, first, each time.Duration) []byte {
	time.Sleep(first)
	var b bytes.Buffer
	buf := make([]byte, 4<<10)
	for b.Len() < want {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(each)
	}
	return b.Bytes()
}
