package native

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// The agent's control connections: accepting them (never giving up on a
// temporary error), checking who connects, reading one bounded request
// within a deadline, answering through a per-client send queue that never
// blocks the agent, and closing them all at shutdown. A panic serving one
// connection fails that request only.

const (
	// MaxRequest is the largest request line the agent reads (1 MiB):
	// a longer one is answered with an error and the connection closed,
	// without reading the rest.
	MaxRequest = 1 << 20
	// DefaultRequestTimeout is how long a client has, once connected, to
	// send its request.
	DefaultRequestTimeout = 5 * time.Second
	// writeTimeout bounds each write to a client; one that does not read
	// for that long is dropped.
	writeTimeout = 10 * time.Second
	// sendQueue is how many batches of responses (one per change the
	// stream reports) may wait for a client that reads slower than its
	// stream grows; past that the client is dropped.
	sendQueue = 64
	// maxAcceptDelay caps the back-off of the accept loop.
	maxAcceptDelay = time.Second
)

// errBadRequest is wrapped by readRequest's error for a request it read
// but refuses (answered, unlike a connection that sent none).
var errBadRequest = errors.New("bad request")

// errRequestTooLarge is the answer to a request line past MaxRequest.
var errRequestTooLarge = fmt.Errorf("%w: larger than %d bytes", errBadRequest, MaxRequest)

// connSet is the open control connections, closed all at once at shutdown.
type connSet struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

// add registers c; false (and c closed) once the set is closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// closeAll closes every connection and waits for their goroutines.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// acceptLoop serves every connection ln accepts until ln is closed. Other
// accept errors (out of file descriptors: EMFILE, ENFILE; ECONNABORTED)
// are temporary: it logs them and tries again after a delay doubling from
// 5 ms to maxAcceptDelay.
func (a *agent) acceptLoop(ctx context.Context, ln net.Listener) {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
			a.log.Warn("accepting a control connection failed; trying again", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		if !a.conns.add(c) {
			continue
		}
		go func() {
			defer a.conns.remove(c)
			a.serveConn(ctx, c)
		}()
	}
}

// serveConn answers the one request of connection c.
func (a *agent) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	if err := checkPeer(c); err != nil {
		a.log.Warn("refused a control connection", "error", err)
		return
	}
	out := newSender(c, a.log)
	defer out.finish()
	var op string
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("serving a control request panicked", "op", op, "panic", v, "stack", string(debug.Stack()))
			out.send(response{Error: fmt.Sprintf("the agent failed serving %q: %v", op, v)})
		}
	}()
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(a.requestTimeout()))
	req, err := readRequest(br)
	switch {
	case errors.Is(err, errBadRequest):
		a.log.Warn("refused a control request", "error", err)
		out.send(response{Error: err.Error()})
		return
	case err != nil:
		a.log.Debug("a control connection sent no request", "error", err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	op = req.Op
	a.dispatch(ctx, req, out, br)
}

func (a *agent) requestTimeout() time.Duration {
	if a.opts.RequestTimeout > 0 {
		return a.opts.RequestTimeout
	}
	return DefaultRequestTimeout
}

// readRequest reads one request line of at most MaxRequest bytes, never
// holding more than that in memory.
func readRequest(br *bufio.Reader) (request, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxRequest {
			return request{}, errRequestTooLarge
		}
		line = append(line, chunk...)
		if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return request{}, err
		}
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return request{}, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return req, nil
}

// dispatch serves req; a stream reads br only to see the client leave.
func (a *agent) dispatch(ctx context.Context, req request, out *sender, br *bufio.Reader) {
	if req.Protocol != Protocol {
		out.send(response{Error: fmt.Sprintf("protocol %d not supported (this agent speaks %d)", req.Protocol, Protocol), Hello: &a.hello})
		return
	}
	if req.StateDir != "" && filepath.Clean(req.StateDir) != a.hello.StateDir {
		out.send(response{Permanent: true, Error: fmt.Sprintf(
			"this agent serves the workspace whose state is in %s, not %s", a.hello.StateDir, req.StateDir)})
		return
	}
	switch req.Op {
	case opHello:
		h := a.hello
		a.mu.Lock()
		h.Forwards = len(a.forwards)
		a.mu.Unlock()
		out.send(response{Hello: &h})
	case opStart:
		out.send(a.start(ctx, req))
	case opStop:
		a.stop(req.ID)
		out.send(response{})
	case opStatus:
		out.send(a.status(req.IDs))
	case opSweep:
		out.send(response{Stopped: a.sweep(req.Keep)})
	case opWatch:
		a.watch(ctx, out, hangUp(br), req.IDs)
	case opEvents:
		a.events(ctx, out, hangUp(br), req)
	case opShutdown:
		out.send(response{})
		out.finish() // answered before the agent closes every connection
		a.log.Info("told to shut down")
		a.shutdown()
	default:
		out.send(response{Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

// hangUp returns a channel closed once the client closes its side (it
// sends nothing after its request; whatever it sends is dropped unread).
func hangUp(br *bufio.Reader) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_, _ = io.Copy(io.Discard, br)
	}()
	return gone
}

// watch streams one Exited line per watched forward that stops (at once
// for those already gone), until the client hangs up, is dropped, or the
// agent exits. It never writes under a.mu.
func (a *agent) watch(ctx context.Context, out *sender, hungUp <-chan struct{}, ids []string) {
	pending := slices.Clone(ids)
	for len(pending) > 0 {
		a.mu.Lock()
		changed := a.changed
		var still, exited []string
		for _, id := range pending {
			if _, ok := a.forwards[id]; ok {
				still = append(still, id)
			} else {
				exited = append(exited, id)
			}
		}
		a.mu.Unlock()
		batch := make([]response, len(exited))
		for i, id := range exited {
			batch[i] = response{Exited: id}
		}
		if len(batch) > 0 && !out.send(batch...) {
			return
		}
		if pending = still; len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-hungUp:
			return
		case <-out.dropped:
			return
		case <-changed:
		}
	}
	select { // every watched forward is gone: keep the line until the client leaves
	case <-ctx.Done():
	case <-hungUp:
	case <-out.dropped:
	}
}

// events streams a forward's events after req.Since; with Follow, new ones
// as they come, until the client hangs up or is dropped, or the forward
// stops.
func (a *agent) events(ctx context.Context, out *sender, hungUp <-chan struct{}, req request) {
	a.mu.Lock()
	s, ok := a.forwards[req.ID]
	a.mu.Unlock()
	if !ok {
		out.send(response{Error: fmt.Sprintf("the agent serves no forward %s", req.ID)})
		return
	}
	since := req.Since
	for {
		evs, more := s.fwd.Events(since)
		if len(evs) > 0 {
			if !out.send(eventResponses(evs)...) {
				return
			}
			since = evs[len(evs)-1].Seq
		}
		if !req.Follow {
			return
		}
		select {
		case <-more:
		case <-s.stopped:
			if evs, _ := s.fwd.Events(since); len(evs) > 0 {
				out.send(eventResponses(evs)...)
			}
			return
		case <-hungUp:
			return
		case <-out.dropped:
			return
		case <-ctx.Done():
			return
		}
	}
}

func eventResponses(evs []engine.Event) []response {
	out := make([]response, len(evs))
	for i := range evs {
		out[i] = response{Event: eventToWire(evs[i])}
	}
	return out
}

// sender writes a connection's responses from a goroutine of its own, so
// that nothing serving a request ever waits for a client: a client whose
// queue is full, or that does not take a line within writeTimeout, is
// dropped (its connection closed). send and finish are called by the
// connection's one serving goroutine.
type sender struct {
	c     net.Conn
	log   hclog.Logger
	queue chan []response
	done  chan struct{} // closed when the writer returns
	once  sync.Once     // closes queue

	dropped  chan struct{} // closed when the client is dropped
	dropOnce sync.Once
}

func newSender(c net.Conn, log hclog.Logger) *sender {
	s := &sender{c: c, log: log, queue: make(chan []response, sendQueue), done: make(chan struct{}), dropped: make(chan struct{})}
	go s.write()
	return s
}

// send queues rs, one batch; false when the client is dropped (now or
// before) or finish was called.
func (s *sender) send(rs ...response) bool {
	select {
	case <-s.dropped:
		return false
	case <-s.done:
		return false
	default:
	}
	select {
	case s.queue <- rs:
		return true
	default:
		s.drop("it does not read its answers (send queue full)")
		return false
	}
}

// finish lets the writer send what is queued, then waits for it (each
// write bounded by writeTimeout).
func (s *sender) finish() {
	s.once.Do(func() { close(s.queue) })
	<-s.done
}

func (s *sender) drop(why string) {
	s.dropOnce.Do(func() {
		s.log.Warn("dropping a control client", "why", why)
		close(s.dropped)
		_ = s.c.Close()
	})
}

func (s *sender) write() {
	defer close(s.done)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("writing a control answer panicked", "panic", v, "stack", string(debug.Stack()))
			s.drop("writing to it panicked")
		}
	}()
	w := bufio.NewWriter(s.c)
	enc := json.NewEncoder(w)
	for rs := range s.queue {
		var err error
		for i := 0; i < len(rs) && err == nil; i++ {
			_ = s.c.SetWriteDeadline(time.Now().Add(writeTimeout))
			err = enc.Encode(rs[i])
		}
		if err == nil && len(s.queue) == 0 {
			err = w.Flush()
		}
		if err != nil {
			s.drop(fmt.Sprintf("writing to it failed: %v", err))
			for range s.queue { // let send and finish go on
			}
			return
		}
	}
}
