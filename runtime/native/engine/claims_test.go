package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// spdyPair is a real SPDY connection over loopback TCP: the client side
// as the engine dials it (a frameConn under spdystream, claimConn), the
// server side as the kubelet runs it; the server's streams arrive on the
// channel, keyed by their "n" header.
func spdyPair(t *testing.T) (claimConn, <-chan httpstream.Stream, net.Conn) {
	t.Helper()
	srvSide, cliSide := tcpPair(t, 0)
	streams := make(chan httpstream.Stream, 16)
	srv, err := streamspdy.NewServerConnection(srvSide, func(s httpstream.Stream, replySent <-chan struct{}) error {
		go func() {
			<-replySent
			streams <- s
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fc := newFrameConn(cliSide)
	sc, err := streamspdy.NewClientConnectionWithPings(fc, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return claimConn{Connection: sc, fc: fc}, streams, srvSide
}

func openStream(t *testing.T, c claimConn, streams <-chan httpstream.Stream, n int) (client, server httpstream.Stream) {
	t.Helper()
	h := http.Header{}
	h.Set("n", strconv.Itoa(n))
	client, err := c.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case server = <-streams:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never got the stream")
	}
	return client, server
}

// pattern is n bytes that show their order.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// TestClaimedStreamOverRealSPDY: on a real spdystream connection, a
// claimed stream's data reaches the local client through frameConn alone,
// whole and in order (frames of every size, one bigger than the pooled
// buffer), and its end reaches both the copy and spdystream; a stream
// beside it that nobody claimed is read through spdystream as before; a
// stream whose data passed to spdystream before the claim cannot be
// claimed, and reads on through spdystream.
func TestClaimedStreamOverRealSPDY(t *testing.T) {
	conn, streams, _ := spdyPair(t)
	data, srvData := openStream(t, conn, streams, 1)
	other, srvOther := openStream(t, conn, streams, 2)

	local, client := tcpPair(t, 0)
	down := newToClient(data, local, func(int) {}, func(string) {}, time.Second)
	if !down.claim(conn, data.Identifier()) {
		t.Fatal("a fresh stream could not be claimed")
	}
	if down.claim(conn, data.Identifier()) {
		t.Error("a stream was claimed twice")
	}
	sent := pattern(300 << 10)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	done := make(chan error, 1)
	go func() { done <- down.run() }()
	go func() {
		rest := sent
		for _, n := range []int{1, 100, 32 << 10, 16 << 10, 100 << 10} { // spdystream writes each Write as a frame
			_, _ = srvData.Write(rest[:n])
			rest = rest[n:]
		}
		_, _ = srvData.Write(rest)
		_ = srvData.Close() // FIN
		_, _ = srvOther.Write([]byte("beside"))
		_ = srvOther.Close()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run() = %v, want nil at the pod's end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the claimed copy never ended")
	}
	down.readerDone()
	local.Close()
	if b := <-got; !bytes.Equal(b, sent) {
		t.Errorf("the client got %d bytes, want the %d sent, in order", len(b), len(sent))
	}
	// spdystream saw the end (an empty FIN frame) and no data.
	if b, err := readWithin(data, 5*time.Second); err != nil || len(b) != 0 {
		t.Errorf("spdystream's side of the claimed stream read %d bytes, %v; want none and its end", len(b), err)
	}
	if b, err := readWithin(other, 5*time.Second); err != nil || string(b) != "beside" {
		t.Errorf("the unclaimed stream read %q, %v; want %q through spdystream", b, err, "beside")
	}

	// Data that went to spdystream first: no claim, and nothing lost.
	late, srvLate := openStream(t, conn, streams, 3)
	if _, err := srvLate.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !passed(conn.fc, late.Identifier()) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if down := newToClient(late, local, func(int) {}, func(string) {}, time.Second); down.claim(conn, late.Identifier()) {
		t.Fatal("a stream whose data already went to spdystream was claimed")
	}
	_ = srvLate.Close()
	if b, err := readWithin(late, 5*time.Second); err != nil || string(b) != "early" {
		t.Errorf("the stream read %q, %v through spdystream; want %q", b, err, "early")
	}
	conn.RemoveStreams(data, other, late)
	conn.fc.smu.Lock()
	left := len(conn.fc.claims.tracks)
	conn.fc.smu.Unlock()
	if left != 0 {
		t.Errorf("%d streams still followed after every one ended", left)
	}
}

// passed reports whether a data frame of stream id went to spdystream.
func passed(fc *frameConn, id uint32) bool {
	fc.smu.Lock()
	defer fc.smu.Unlock()
	tr := fc.claims.tracks[id]
	return tr != nil && tr.passed
}

func readWithin(r io.Reader, d time.Duration) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	c := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		c <- result{b, err}
	}()
	select {
	case r := <-c:
		return r.b, r.err
	case <-time.After(d):
		return nil, errors.New("no end in time")
	}
}

// TestClaimEnds: a claimed copy ends when its stream is reset (here, or
// by the pod) and when the tunnel is lost, as a copy reading spdystream
// does; a copy whose client stopped reading is reset, and blocks the
// tunnel no longer than the stall rule lets it: a stream beside it still
// gets its data.
func TestClaimEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, data, srvData httpstream.Stream, srvSide net.Conn)
		want error
	}{
		{"reset here", func(t *testing.T, data, _ httpstream.Stream, _ net.Conn) { _ = data.Reset() }, nil},
		{"reset by the pod", func(t *testing.T, _, srvData httpstream.Stream, _ net.Conn) { _ = srvData.Reset() }, nil},
		{"tunnel lost", func(t *testing.T, _, _ httpstream.Stream, srvSide net.Conn) { srvSide.Close() }, nil},
		{"client stopped reading", func(t *testing.T, _, srvData httpstream.Stream, _ net.Conn) {
			go func() {
				for range 64 {
					if _, err := srvData.Write(make([]byte, 32<<10)); err != nil {
						return
					}
				}
			}()
		}, errStalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, streams, srvSide := spdyPair(t)
			data, srvData := openStream(t, conn, streams, 1)
			local, client := tcpPair(t, 32<<10) // small buffers: a client that does not read fills them soon
			down := newToClient(data, local, func(int) {}, func(string) {}, 100*time.Millisecond)
			if !down.claim(conn, data.Identifier()) {
				t.Fatal("no claim")
			}
			done := make(chan error, 1)
			go func() { done <- down.run() }()
			if _, err := srvData.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("the client read %q, %v", buf, err)
			}
			tt.end(t, data, srvData, srvSide)
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Errorf("run() = %v, want %v", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the claimed copy did not end")
			}
			_ = data.Reset()
			conn.RemoveStreams(data)
			readerDone := make(chan struct{})
			go func() { down.readerDone(); close(readerDone) }()
			select {
			case <-readerDone:
			case <-time.After(5 * time.Second):
				t.Fatal("the claim's taker never ended")
			}
			if tt.want == nil {
				return
			}
			// The tunnel serves on beside the stalled client.
			other, srvOther := openStream(t, conn, streams, 2)
			if _, err := srvOther.Write([]byte("still")); err != nil {
				t.Fatal(err)
			}
			_ = srvOther.Close()
			if b, err := readWithin(other, 5*time.Second); err != nil || string(b) != "still" {
				t.Errorf("a stream beside the stalled one read %q, %v; want %q", b, err, "still")
			}
		})
	}
}

// TestFramesOfEndedStreamsDropped: what the pod still sends on a stream
// kpf reset (it had not heard yet) is dropped by frameConn, not handed
// to spdystream; a stream opened after it gets its data as before.
func TestFramesOfEndedStreamsDropped(t *testing.T) {
	conn, streams, _ := spdyPair(t)
	data, srvData := openStream(t, conn, streams, 1)
	local, _ := tcpPair(t, 0)
	down := newToClient(data, local, func(int) {}, func(string) {}, time.Second)
	if !down.claim(conn, data.Identifier()) {
		t.Fatal("no claim")
	}
	_ = data.Reset()
	conn.RemoveStreams(data)
	const late = 256 << 10
	for sent := 0; sent < late; sent += 32 << 10 {
		if _, err := srvData.Write(make([]byte, 32<<10)); err != nil {
			t.Fatal(err)
		}
	}
	next, srvNext := openStream(t, conn, streams, 2)
	_, _ = srvNext.Write([]byte("next"))
	_ = srvNext.Close()
	if b, err := readWithin(next, 5*time.Second); err != nil || string(b) != "next" {
		t.Errorf("the next stream read %q, %v; want %q", b, err, "next")
	}
	conn.fc.smu.Lock()
	dropped := conn.fc.claims.dropped
	conn.fc.smu.Unlock()
	if dropped != late { // the frames before the next stream's reached frameConn first
		t.Errorf("frameConn dropped %d bytes of the reset stream, want the %d the pod sent after the reset", dropped, late)
	}
}

// TestClaimPanicResetsTheClient: a panic while a claimed frame is handed
// over (here in the byte count) is recovered on the tunnel's read loop:
// the tunnel goes on, and that connection's client is reset rather than
// left to read the pod's bytes with a hole in them.
func TestClaimPanicResetsTheClient(t *testing.T) {
	conn, streams, _ := spdyPair(t)
	data, srvData := openStream(t, conn, streams, 1)
	local, client := tcpPair(t, 0)
	caught := make(chan string, 1)
	catch := func(what string) {
		if r := recover(); r != nil {
			caught <- what
		}
	}
	var n atomic.Int32
	down := newToClient(data, local, func(int) {
		if n.Add(1) == 2 {
			panic("counting")
		}
	}, catch, time.Second)
	if !down.claim(conn, data.Identifier()) {
		t.Fatal("no claim")
	}
	go func() { _ = down.run() }()
	for _, m := range []string{"one", "two", "three"} {
		if _, err := srvData.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-caught:
	case <-time.After(5 * time.Second):
		t.Fatal("the panic was not caught")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(client)
	if err == nil || !strings.HasPrefix("onetwothree", string(b)) || len(b) == len("onetwothree") {
		t.Errorf("the client read %q, %v; want what came before the panic, then a reset", b, err)
	}
	// The tunnel serves on.
	other, srvOther := openStream(t, conn, streams, 2)
	_, _ = srvOther.Write([]byte("on"))
	_ = srvOther.Close()
	if b, err := readWithin(other, 5*time.Second); err != nil || string(b) != "on" {
		t.Errorf("a stream after the panic read %q, %v; want %q", b, err, "on")
	}
}
