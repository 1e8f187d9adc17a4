package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// clientBuffer bounds what one connection holds of the pod's bytes that
// its local client has not taken yet (plus the one frame being queued).
const clientBuffer = 64 << 10

// DefaultStallTimeout is how long a local client whose connection's buffer
// is full may take no byte before that connection is reset
// (Options.StallTimeout).
const DefaultStallTimeout = 250 * time.Millisecond

// errStalled ends a connection whose local client stopped reading.
var errStalled = errors.New("the local client stopped reading")

// frameReader is what a SPDY stream (spdystream.Stream, on both transports)
// offers besides Read: the next data frame as the framer allocated it, so
// queueing it costs no copy and no buffer while the stream is idle.
type frameReader interface {
	ReadData() ([]byte, error)
}

// toClient copies what the pod sends on a data stream to the local client
// without ever letting that client hold up the tunnel. spdystream hands
// every frame to one of five workers per tunnel and blocks that worker
// until the frame's stream takes it, and SPDY as the API server speaks it
// has no per-stream flow control: a stream that is not read stalls the
// worker, then the tunnel's read loop, then every connection to the pod.
// So the stream is read at once, always. What the client's socket takes
// at once (one write that never waits, nowWriter) is written by the
// goroutine that read it; what it does not take goes into a queue bounded
// by bound bytes, and a separate writer copies the queue to the client.
// A client that keeps up thus costs no hand-off between goroutines per
// frame, and one that falls behind costs the tunnel nothing either.
//
// Past the bound the reader waits (back-pressure: the tunnel waits with
// it) as long as the client keeps taking bytes; a client that takes none
// for stall while the queue is full stopped reading, and its connection is
// reset (errStalled) so that the others go on. The queue holds the
// frames themselves: an idle connection, or one whose client keeps up,
// holds nothing.
type toClient struct {
	src   io.Reader
	dst   net.Conn
	now   nowWriter         // dst, written without waiting
	wrote func(n int)       // after n bytes reached dst
	catch func(what string) // deferred in the reader: recovers a panic (Forward.catch)
	bound int
	stall time.Duration

	mu     sync.Mutex
	queue  [][]byte
	queued int // bytes in queue and in the chunk being written
	// lastWrite: when the writer last wrote bytes to dst, or when the
	// queue last went from empty to not (the client fell behind then).
	lastWrite time.Time
	peak      int   // most ever queued (tests)
	end       error // why the reader ended (io.EOF: the pod closed its side)
	ended     bool
	stalled   bool
	// taken: the tunnel's read loop hands the stream's frames over
	// (take) and there is no reader goroutine; taking: a take runs;
	// discard: past a stall or the writer's end, frames are dropped.
	taken, taking, discard, readClosed bool

	ready chan struct{} // (1) the reader queued a frame or ended
	freed chan struct{} // (1) the writer wrote something
	quit  chan struct{} // closed when the writer ends
	read  chan struct{} // closed when the reader ends (taken: once ended and no take runs)
	endc  chan struct{} // closed when the reader ended (finish)
}

func newToClient(src io.Reader, dst net.Conn, wrote func(int), catch func(string), stall time.Duration) *toClient {
	return &toClient{
		src: src, dst: dst, now: newNowWriter(dst), wrote: wrote, catch: catch, bound: clientBuffer, stall: stall,
		lastWrite: time.Now(),
		ready:     make(chan struct{}, 1),
		freed:     make(chan struct{}, 1),
		quit:      make(chan struct{}),
		read:      make(chan struct{}),
		endc:      make(chan struct{}),
	}
}

// claim has the tunnel hand the stream's frames to c (take) instead of c
// reading them, when conn can (claimConn, the stream id's frames not yet
// passed on), before run. It reports whether it does.
func (c *toClient) claim(conn any, id uint32) bool {
	cl, ok := conn.(claimer)
	if !ok {
		return false
	}
	c.mu.Lock()
	c.taken = true // before the claim: a take may come at once
	c.mu.Unlock()
	if cl.claim(id, c) {
		return true
	}
	c.mu.Lock()
	c.taken = false
	c.mu.Unlock()
	return false
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run copies until the pod's side ends and everything reached the client
// (nil), the client fails (its error), or it stopped reading (errStalled:
// dst was reset). The reader may still run: it ends, discarding, when src
// ends (the caller resets the stream); readerDone waits for it.
func (c *toClient) run() error {
	c.mu.Lock()
	taken := c.taken
	c.mu.Unlock()
	if !taken {
		go c.reader()
	}
	defer close(c.quit)
	deadline := false // write set a write deadline on dst
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.ended {
			c.mu.Unlock()
			if deadline {
				// The reader writes at once again: no deadline must
				// be left to fail it.
				_ = c.dst.SetWriteDeadline(time.Time{})
				deadline = false
			}
			<-c.ready
			c.mu.Lock()
		}
		if len(c.queue) == 0 {
			end := c.end
			c.mu.Unlock()
			if errors.Is(end, io.EOF) {
				return nil
			}
			return end
		}
		chunk := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		deadline = true
		if err := c.write(chunk); err != nil {
			c.mu.Lock()
			stalled := c.stalled
			c.mu.Unlock()
			if stalled {
				return errStalled
			}
			return err
		}
	}
}

// write writes chunk to dst in slices of at most stall/2, so that a
// client that takes bytes slowly shows progress.
func (c *toClient) write(chunk []byte) error {
	for len(chunk) > 0 {
		_ = c.dst.SetWriteDeadline(time.Now().Add(c.stall / 2))
		n, err := c.dst.Write(chunk)
		if n > 0 {
			chunk = chunk[n:]
			c.wrote(n)
			c.mu.Lock()
			c.queued -= n
			c.lastWrite = time.Now()
			c.mu.Unlock()
			signal(c.freed)
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
	return nil
}

// reader takes every frame off the stream at once and queues it; past the
// bound it waits for the writer as long as the writer makes progress.
func (c *toClient) reader() {
	defer close(c.read)
	defer c.finish(errors.New("reading from the pod failed"))
	defer c.catch("copying from the pod")
	fr, frames := c.src.(frameReader)
	var buf []byte
	discard := false
	for {
		if !discard && !c.waitRoom() {
			discard = true // the writer ended or the client was reset: drain and drop
		}
		var chunk []byte
		var err error
		if frames {
			chunk, err = fr.ReadData()
		} else {
			if buf == nil {
				buf = make([]byte, 32<<10)
			}
			var n int
			n, err = c.src.Read(buf)
			chunk = append([]byte(nil), buf[:n]...)
		}
		if len(chunk) > 0 && !discard {
			c.deliver(chunk, false)
		}
		if err != nil {
			c.finish(err)
			return
		}
	}
}

// take is reader's part when the tunnel's read loop hands the stream's
// frames over (claim): it runs on that loop, and p is the loop's again
// once take returns. Past the bound it waits for the writer as reader
// does: the tunnel waits with it, as it does for a stream spdystream
// hands over.
func (c *toClient) take(p []byte) {
	c.mu.Lock()
	if c.ended || c.discard {
		c.mu.Unlock()
		return
	}
	c.taking = true
	c.mu.Unlock()
	defer c.took()
	whole := false
	defer func() {
		if !whole { // a panic, recovered below: the client would miss bytes
			c.mu.Lock()
			c.discard = true
			c.mu.Unlock()
			reset(c.dst)
		}
	}()
	defer c.catch("copying from the pod")
	if c.waitRoom() {
		c.deliver(p, true)
	} else {
		c.mu.Lock()
		c.discard = true
		c.mu.Unlock()
	}
	whole = true
}

// took ends a take; the reader has ended once the stream ended and no
// take runs.
func (c *toClient) took() {
	c.mu.Lock()
	c.taking = false
	if c.ended && !c.readClosed {
		c.readClosed = true
		close(c.read)
	}
	c.mu.Unlock()
}

// deliver writes chunk to the client at once when nothing is queued
// before it and the client's socket takes it; what the socket does not
// take is queued for the writer. Only the reader queues, so a queue seen
// empty stays empty (and the writer idle) while the reader writes.
// A borrowed chunk is its caller's again once deliver returns: what is
// queued of it is a copy.
func (c *toClient) deliver(chunk []byte, borrowed bool) {
	c.mu.Lock()
	idle := c.queued == 0
	c.mu.Unlock()
	if idle {
		if n := c.now.write(chunk); n > 0 {
			c.wrote(n)
			chunk = chunk[n:]
		}
		if len(chunk) == 0 {
			return
		}
	}
	if borrowed {
		chunk = bytes.Clone(chunk)
	}
	c.mu.Lock()
	if c.queued == 0 {
		c.lastWrite = time.Now()
	}
	c.queue = append(c.queue, chunk)
	c.queued += len(chunk)
	c.peak = max(c.peak, c.queued)
	c.mu.Unlock()
	signal(c.ready)
}

// finish records why the reader ended (the first reason only) and wakes
// the writer.
func (c *toClient) finish(err error) {
	c.mu.Lock()
	if !c.ended {
		c.end, c.ended = err, true
		close(c.endc)
	}
	if c.taken && !c.taking && !c.readClosed {
		c.readClosed = true
		close(c.read)
	}
	c.mu.Unlock()
	signal(c.ready)
}

// waitRoom returns once the queue is below the bound (true), or false when
// the writer ended, or when it took no byte for stall while the queue was
// full: the client stopped reading, and its connection is reset.
func (c *toClient) waitRoom() bool {
	var timer *time.Timer
	for {
		c.mu.Lock()
		full, last := c.queued >= c.bound, c.lastWrite
		c.mu.Unlock()
		if !full {
			return true
		}
		wait := time.Until(last.Add(c.stall))
		if wait <= 0 {
			c.mu.Lock()
			c.stalled = true
			c.mu.Unlock()
			reset(c.dst)
			return false
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-c.freed:
		case <-c.quit:
			return false
		case <-c.endc: // the stream ended meanwhile (a take waits here)
			return false
		case <-timer.C:
		}
	}
}

// reset closes conn with a TCP RST (not a FIN: the client must not take
// a cut-short answer for a whole one).
func reset(conn net.Conn) {
	if l, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = conn.Close()
}

// readerDone waits for the reader to end (after src ended).
func (c *toClient) readerDone() { <-c.read }

// stallReason says why a stalled connection was reset.
func (c *toClient) stallReason() string {
	return fmt.Sprintf("%v: reset after %s without taking a byte with %d KiB waiting for it", errStalled, c.stall, c.bound>>10)
}
