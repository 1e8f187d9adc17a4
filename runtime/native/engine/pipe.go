package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/streaming/pkg/httpstream"
)

// errStreamWait bounds the wait for the error stream after the data
// stream ended (a server that never closes it must not hold a goroutine).
const errStreamWait = time.Second

// pipe copies between the local connection and the data stream until the
// pod's side ends or the local side fails, then reads what the error
// stream said. An error there ends this connection only; the tunnel stays.
// When the pod refused the connection — its side ended before it sent a
// byte, with an error — and what the client sent is still kept, the local
// connection is left open and pipe returns that error: the caller replays
// the connection to a pod again (replayReader.hold).
//
// Its pieces: copies (the two directions), halfClose (the linger after
// the client's EOF), replayReader.hold (keeping the client for a replay)
// and closed (the connection's event).
func (f *Forward) pipe(conn net.Conn, rec *replayReader, t *tunnel, pod string, errStream, data httpstream.Stream) (refused error) {
	defer t.release()
	defer t.conn.RemoveStreams(errStream, data) // both are torn down below
	f.event(Event{Kind: EventConnOpened, Pod: pod, Message: conn.RemoteAddr().String()})
	errMsg := f.readErrorStream(errStream)
	c := f.startCopies(conn, rec, t.conn, data)
	h := halfClose{f: f}
	defer h.end()
	f.await(c, &h)
	// Reset before waiting on the error stream: unread data would block it;
	// removing it ends a claim of it (claimConn), whether or not frameConn
	// saw the reset go out.
	_ = data.Reset()
	t.conn.RemoveStreams(data)
	replayable := rec.hold(conn, c.in.Load() == 0 && f.ctx.Err() == nil, c.localDone)
	<-c.remoteDone
	c.down.readerDone()
	<-c.localDone
	var msg string
	select {
	case msg = <-errMsg:
	case <-time.After(errStreamWait):
		_ = errStream.Reset()
	}
	return f.closed(conn, pod, c, msg, replayable)
}

// readErrorStream reads what the pod's error stream says, in the
// background; the channel gets it (empty: nothing) once the stream ends.
func (f *Forward) readErrorStream(errStream httpstream.Stream) <-chan string {
	errMsg := make(chan string, 1)
	go func() {
		var msg []byte
		defer func() { errMsg <- string(msg) }()
		defer f.catch("reading the error stream")
		msg, _ = io.ReadAll(errStream) // a read error means the stream was reset: nothing to say
	}()
	return errMsg
}

// copies is one connection's two copies: the pod's bytes to the client
// (down, a toClient) and the client's to the pod.
type copies struct {
	in, out atomic.Int64 // bytes from the pod, to the pod
	down    *toClient
	downErr error // down's end; read after remoteDone
	// remoteDone: the copy from the pod ended. localDone: the copy to the
	// pod ended, after localFailed unless the client sent EOF.
	remoteDone, localDone, localFailed chan struct{}
}

// startCopies starts both copies. The pod's bytes are taken off the
// tunnel at once, whatever the client does (toClient): a client that
// stops reading is reset rather than let it stall the tunnel's other
// connections. What the client sent to a pod that refused it (rec.kept)
// is sent first. When the tunnel can (claimConn), it hands the data
// stream's frames to the copy from the pod itself (toClient.claim).
func (f *Forward) startCopies(conn net.Conn, rec *replayReader, tunnel httpstream.Connection, data httpstream.Stream) *copies {
	c := &copies{remoteDone: make(chan struct{}), localDone: make(chan struct{}), localFailed: make(chan struct{})}
	prefix, _ := rec.kept() // sent to a pod that refused it: sent again
	var answered sync.Once
	c.down = newToClient(data, conn, func(n int) {
		answered.Do(rec.answered)
		f.bytesIn.Add(int64(n))
		f.e.carried.Add(int64(n))
		c.in.Add(int64(n))
	}, f.catch, f.e.opts.StallTimeout)
	c.down.claim(tunnel, data.Identifier())
	go func() {
		defer close(c.remoteDone)
		defer f.catch("copying from the pod")
		c.downErr = c.down.run()
	}()
	go f.copyToPod(c, rec, prefix, data)
	return c
}

// upFrame is the most a data frame to the pod carries: 32 KiB less the
// SPDY data frame's header (8 bytes) and a masked WebSocket frame's header
// for that length (8), so that a frame, whole on either transport, fills
// exactly two TLS records of 16 KiB. With 32 KiB of data each frame took a
// third record of a few bytes, and a third syscall: TLS writes each record
// on its own.
const upFrame = 32<<10 - 16

// upBuffers holds copyToPod's buffers between connections: a new
// connection took a new 32 KiB buffer, so a burst of short connections
// (1,000 at once: 32 MiB) was garbage the GC had to run for.
var upBuffers = sync.Pool{New: func() any {
	b := make([]byte, upFrame)
	return &b
}}

// copyToPod copies the client's bytes (after prefix) to the pod. On the
// client's EOF it closes the data stream (the pod may still answer); on a
// failure it closes c.localFailed.
func (f *Forward) copyToPod(c *copies, rec *replayReader, prefix []byte, data httpstream.Stream) {
	defer close(c.localDone)
	eof := false
	defer func() {
		if !eof {
			close(c.localFailed)
		}
	}()
	defer f.catch("copying to the pod")
	src := io.Reader(rec)
	if len(prefix) > 0 {
		src = io.MultiReader(bytes.NewReader(prefix), rec)
	}
	// Read in upFrame pieces (io.CopyBuffer; the struct hides a
	// MultiReader's WriteTo, which would read in 32 KiB ones), into a
	// buffer this copy owns until it returns: every write of it to the
	// stream is done with it when it returns (spdystream's framer writes
	// the frame before WriteData returns).
	buf := upBuffers.Get().(*[]byte)
	defer upBuffers.Put(buf)
	if _, err := io.CopyBuffer(countWriter{data, &f.bytesOut, &c.out, &f.e.carried}, struct{ io.Reader }{src}, *buf); err != nil {
		return
	}
	eof = true
	data.Close() // the client half-closed: tell the pod, keep reading its answer
}

// await returns once the pod's side ended, the copy to the pod failed,
// the forward stopped, or the pod stayed silent for HalfCloseTimeout
// after the client's EOF (h).
func (f *Forward) await(c *copies, h *halfClose) {
	defer h.stop()
	localEOF := c.localDone
	var lingerC <-chan time.Time
	for {
		select {
		case <-c.remoteDone:
			return
		case <-c.localFailed:
			return
		case <-f.ctx.Done():
			return
		case <-localEOF:
			localEOF = nil
			lingerC = h.begin(c.in.Load())
		case <-lingerC:
			if h.silent(c.in.Load()) {
				return
			}
		}
	}
}

// halfClose is the linger after the client's EOF (a half-close, or a full
// close TCP cannot tell apart): the pod may still answer, so the
// connection goes on while it does and ends once the pod has been silent
// for HalfCloseTimeout (some servers and kwok never close their side).
// From the EOF until pipe returns (end) the connection is no longer
// counted as open (Forward.closing, Status.Active).
type halfClose struct {
	f      *Forward
	timer  *time.Timer // nil until the client's EOF
	lastIn int64       // bytes from the pod when the timer last started
}

// begin starts the linger, in bytes from the pod so far.
func (h *halfClose) begin(in int64) <-chan time.Time {
	h.f.closing.Add(1)
	h.lastIn = in
	h.timer = time.NewTimer(h.f.e.opts.HalfCloseTimeout)
	return h.timer.C
}

// silent is called when the timer fires: it reports whether the pod sent
// nothing since it started, and else starts it again.
func (h *halfClose) silent(in int64) bool {
	if in == h.lastIn {
		return true
	}
	h.lastIn = in
	h.timer.Reset(h.f.e.opts.HalfCloseTimeout)
	return false
}

// stop stops the timer.
func (h *halfClose) stop() {
	if h.timer != nil {
		h.timer.Stop()
	}
}

// end counts the connection out of closing, if it was counted in.
func (h *halfClose) end() {
	if h.timer != nil {
		h.f.closing.Add(-1)
	}
}

// closed reports the connection's end (its event, a stall, what the error
// stream said, msg) and returns the pod's refusal when the connection is
// kept for a replay; else the client's connection is closed.
func (f *Forward) closed(conn net.Conn, pod string, c *copies, msg string, replayable bool) error {
	ev := Event{Kind: EventConnClosed, Pod: pod, BytesIn: c.in.Load(), BytesOut: c.out.Load()}
	if errors.Is(c.downErr, errStalled) {
		f.stalled.Add(1)
		ev.Message = c.down.stallReason()
		f.log.Debug("connection reset: its client stopped reading", "pod", pod, "remote", conn.RemoteAddr().String(), "stall", f.e.opts.StallTimeout, "buffered", c.down.bound)
	}
	var err error
	if msg != "" {
		err = fmt.Errorf("pod %s: %s", pod, msg)
		ev.Message = err.Error()
		f.log.Debug("stream error", "pod", pod, "error", msg)
	}
	if replayable && err != nil {
		f.event(ev)
		return err
	}
	if replayable {
		conn.Close() // the pod closed without a word: so does the client's connection
	}
	if err != nil {
		f.setLastError(err)
	}
	f.event(ev)
	return nil
}

// countWriter counts bytes written into two counters.
type countWriter struct {
	w                  io.Writer
	total, own, engine *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.total.Add(int64(n))
	c.own.Add(int64(n))
	c.engine.Add(int64(n))
	return n, err
}
