package engine

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"

	"k8s.io/streaming/pkg/httpstream"
)

// The read side of frameConn: the data frames of a stream that a local
// connection claimed are taken off the tunnel by frameConn itself, on the
// goroutine that reads the tunnel, and handed to the connection's toClient
// there; every other frame passes to spdystream unchanged.
//
// spdystream reads every frame, allocates its data, and hands it to one of
// five workers per tunnel, which hands it to the stream's reader: two
// hand-offs between goroutines and an allocation per frame, on every
// frame of a download. A claimed stream's frame costs neither: it is read
// into a pooled buffer and written to the client's socket at once when
// the client keeps up (toClient.take). What the client's socket does not
// take is queued as before, with the same bound and the same stall rule.
//
// A stream can be claimed only from the start: frameConn tracks the
// streams kpf opens (each SYN_STREAM it writes) until they end, and a
// claim fails once a data frame of the stream was passed to spdystream
// (its bytes are in spdystream's queues; the connection then reads the
// stream as before). spdystream still sees a claimed stream's end: its
// closing data frame passes as an empty one with the FIN flag.

// SPDY/3 framing (moby/spdystream/spdy): a data frame is its stream id (31
// bits), flags (8) and length (24), then the data; a control frame has the
// control bit, version and type, then flags and length.
const (
	spdyControlBit = 0x80
	spdyDataFin    = 0x01
	spdySynStream  = 1
	spdyRstStream  = 3
)

// frameBuffers holds the buffers claimed frames are read into (a 32 KiB
// frame as the kubelet sends them; a bigger one gets a buffer of its own).
var frameBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// track is a stream kpf opened on this tunnel.
type track struct {
	passed bool      // a data frame of it went to spdystream: it can no longer be claimed
	to     *toClient // the local connection that claimed it
}

// claimed is the read side's state, guarded by frameConn.smu.
type claimed struct {
	tracks map[uint32]*track
	lost   bool // the tunnel ended, or its frames could not be followed: no more claims
	// gone: the streams kpf ended last (reset or removed). What the pod
	// had sent on them before it heard (a stalled connection's echo: up
	// to megabytes in the API server's and the node's buffers) is dropped
	// here, without the allocation and hand-offs spdystream spends on a
	// frame it then drops too. Stream ids are never reused on a
	// connection, so a frame dropped here is one nobody reads.
	gone     [128]uint32
	goneNext int
	dropped  int64 // bytes of data dropped for the gone
}

// readSide is what only the tunnel's read loop (spdystream's Serve) uses.
type readSide struct {
	rd   *bufio.Reader
	hdr  [spdyHeaderLen]byte
	pend []byte // header bytes of the frame being passed to spdystream
	left int    // bytes of that frame's payload still to pass
}

// Read implements io.Reader for spdystream's framer: the tunnel's frames,
// less the data of claimed streams.
func (c *frameConn) Read(p []byte) (int, error) {
	for {
		if len(c.r.pend) > 0 {
			n := copy(p, c.r.pend)
			c.r.pend = c.r.pend[n:]
			return n, nil
		}
		if c.r.left > 0 {
			n, err := c.r.rd.Read(p[:min(len(p), c.r.left)])
			c.r.left -= n
			if err != nil {
				c.lose()
			}
			return n, err
		}
		if err := c.nextFrame(); err != nil {
			c.lose()
			return 0, err
		}
	}
}

// nextFrame reads the next frame's header and either hands a claimed
// stream's data to its connection or sets the frame up to pass.
func (c *frameConn) nextFrame() error {
	h := c.r.hdr[:]
	if _, err := io.ReadFull(c.r.rd, h); err != nil {
		return err
	}
	length := int(binary.BigEndian.Uint32(h[4:]) & 0xffffff)
	c.r.pend, c.r.left = h, length
	if h[0]&spdyControlBit != 0 {
		if binary.BigEndian.Uint16(h[2:]) == spdyRstStream {
			if b, err := c.r.rd.Peek(4); err == nil {
				c.untrack(binary.BigEndian.Uint32(b)&0x7fffffff, false)
			}
		}
		return nil
	}
	id := binary.BigEndian.Uint32(h) & 0x7fffffff
	fin := h[4]&spdyDataFin != 0
	c.smu.Lock()
	tr := c.claims.tracks[id]
	if tr == nil && id != 0 && c.claims.ended(id) {
		c.claims.dropped += int64(length)
		c.smu.Unlock()
		c.r.pend, c.r.left = nil, 0
		_, err := c.r.rd.Discard(length)
		return err
	}
	if tr == nil || tr.to == nil {
		if tr != nil && length > 0 {
			tr.passed = true
		}
		if tr != nil && fin {
			delete(c.claims.tracks, id)
		}
		c.smu.Unlock()
		return nil // passes to spdystream
	}
	to := tr.to
	if fin {
		delete(c.claims.tracks, id)
	}
	c.smu.Unlock()
	if length > 0 {
		if err := c.hand(to, length); err != nil {
			return err
		}
	}
	c.r.left = 0
	if fin {
		to.finish(io.EOF)
		h[5], h[6], h[7] = 0, 0, 0 // spdystream sees the stream's end, without its data
		c.r.pend = h
	} else {
		c.r.pend = nil
	}
	return nil
}

// hand reads length bytes of data and hands them to to.
func (c *frameConn) hand(to *toClient, length int) error {
	bp := frameBuffers.Get().(*[]byte)
	defer frameBuffers.Put(bp)
	buf := *bp
	if length > len(buf) {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if _, err := io.ReadFull(c.r.rd, buf); err != nil {
		return err
	}
	to.take(buf)
	return nil
}

// sawWrite follows the streams kpf opens and resets, from a frame it
// writes whole.
func (c *frameConn) sawWrite(frame []byte) {
	if len(frame) < spdyHeaderLen+4 || frame[0]&spdyControlBit == 0 {
		return
	}
	id := binary.BigEndian.Uint32(frame[spdyHeaderLen:]) & 0x7fffffff
	switch binary.BigEndian.Uint16(frame[2:]) {
	case spdySynStream:
		c.smu.Lock()
		if !c.claims.lost {
			if c.claims.tracks == nil {
				c.claims.tracks = map[uint32]*track{}
			}
			c.claims.tracks[id] = &track{}
		}
		c.smu.Unlock()
	case spdyRstStream:
		c.untrack(id, true)
	}
}

// claim takes stream id's data frames for to from now on. It fails for a
// stream frameConn does not follow, or one whose data already went to
// spdystream.
func (c *frameConn) claim(id uint32, to *toClient) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	tr := c.claims.tracks[id]
	if c.claims.lost || tr == nil || tr.passed || tr.to != nil {
		return false
	}
	tr.to = to
	return true
}

// untrack forgets stream id (it was reset, either side, or removed); a
// connection that claimed it reads its end, as it would from spdystream.
// A stream kpf ended (here) is remembered among the gone.
func (c *frameConn) untrack(id uint32, here bool) {
	c.smu.Lock()
	tr := c.claims.tracks[id]
	delete(c.claims.tracks, id)
	if here && id != 0 && !c.claims.ended(id) {
		c.claims.gone[c.claims.goneNext] = id
		c.claims.goneNext = (c.claims.goneNext + 1) % len(c.claims.gone)
	}
	c.smu.Unlock()
	if tr != nil && tr.to != nil {
		tr.to.finish(io.EOF)
	}
}

// ended reports whether kpf ended stream id lately (gone).
func (cl *claimed) ended(id uint32) bool {
	for _, g := range cl.gone {
		if g == id {
			return true
		}
	}
	return false
}

// lose ends the tunnel's claims: its connection failed, or its frames
// could not be followed.
func (c *frameConn) lose() {
	c.smu.Lock()
	tracks := c.claims.tracks
	c.claims.tracks, c.claims.lost = nil, true
	c.smu.Unlock()
	for _, tr := range tracks {
		if tr.to != nil {
			tr.to.finish(io.EOF)
		}
	}
}

// claimConn is a tunnel's SPDY connection over a frameConn, which it
// offers for claims, and the transport it was dialed over.
type claimConn struct {
	httpstream.Connection
	fc        *frameConn
	transport Transport
}

// claimer is a tunnel connection whose streams' data a local connection
// can take off the tunnel itself.
type claimer interface {
	claim(id uint32, to *toClient) bool
}

func (c claimConn) claim(id uint32, to *toClient) bool { return c.fc.claim(id, to) }

// RemoveStreams implements httpstream.Connection: frameConn forgets them
// too.
func (c claimConn) RemoveStreams(streams ...httpstream.Stream) {
	for _, s := range streams {
		if s != nil {
			c.fc.untrack(s.Identifier(), true)
		}
	}
	c.Connection.RemoveStreams(streams...)
}
