//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/test/internal/measure"
)

// Pauses of the traffic workers between two operations: the machine is
// shared, the point is continuity, not load.
const (
	httpPause   = 20 * time.Millisecond
	streamPause = 50 * time.Millisecond
	opTimeout   = 30 * time.Second // one request or stream, dial to last byte
)

// traffic keeps mixed traffic through the forwards and books every outcome
// on the current phase: the row of the fault under way.
type traffic struct {
	ports []int
	opts  options
	log   hclog.Logger
	phase atomic.Pointer[result]
	seq   atomic.Uint64 // streams started, the seed of each one's bytes

	mu   sync.Mutex
	idle []*idleConn // one per forward; a nil or cut one is reopened
}

func newTraffic(ports []int, opts options, log hclog.Logger, first *result) *traffic {
	t := &traffic{ports: ports, opts: opts, log: log, idle: make([]*idleConn, len(ports))}
	t.phase.Store(first)
	return t
}

// setPhase books what happens from now on on row.
func (t *traffic) setPhase(row *result) { t.phase.Store(row) }

func (t *traffic) row() *result { return t.phase.Load() }

// start runs the HTTP and stream workers until stop, which also closes the
// idle connections.
func (t *traffic) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range t.opts.httpWorkers {
		wg.Go(func() { t.httpLoop(ctx, w) })
	}
	for w := range t.opts.streamWorkers {
		wg.Go(func() { t.streamLoop(ctx, w) })
	}
	return func() {
		cancel()
		wg.Wait()
		t.closeIdle()
	}
}

// httpLoop sends one HTTP request after the other, round the forwards, and
// checks each answer came from a pod of the forward's deployment.
func (t *traffic) httpLoop(ctx context.Context, worker int) {
	for i := worker; ctx.Err() == nil; i += t.opts.httpWorkers {
		fwd := i % len(t.ports)
		body, err := fetch(ctx, t.ports[fwd], opTimeout)
		if ctx.Err() != nil {
			return
		}
		row := t.row()
		row.requests.Add(1)
		want := deployment(fwd%t.opts.deployments) + "-"
		if err == nil && !strings.HasPrefix(body, want) {
			err = fmt.Errorf("answer %q is not from a pod of %s", body, strings.TrimSuffix(want, "-"))
		}
		var late *greetedError
		if errors.As(err, &late) && strings.HasPrefix(late.line, want) {
			row.late.Add(1)
			err = nil
		}
		if err != nil {
			row.fail(fmt.Errorf("request through f%03d: %w", fwd, err))
		}
		_ = measure.Sleep(ctx, httpPause)
	}
}

// streamLoop sends one echoed bulk stream after the other, round the
// forwards, and books the bytes that came back wrong.
func (t *traffic) streamLoop(ctx context.Context, worker int) {
	for i := worker; ctx.Err() == nil; i += t.opts.streamWorkers {
		fwd := i % len(t.ports)
		want := payload(t.seq.Add(1), t.opts.streamBytes)
		got, err := stream(ctx, t.ports[fwd], want)
		if ctx.Err() != nil {
			return
		}
		row := t.row()
		row.streams.Add(1)
		if bad := corrupted(want, got); bad > 0 {
			row.corrupt.Add(bad)
			row.noteErr(fmt.Errorf("stream through f%03d: %d of %d bytes came back wrong", fwd, bad, len(got)))
		}
		if err != nil {
			row.cut.Add(1)
			row.noteErr(fmt.Errorf("stream through f%03d cut after %d of %d bytes: %w", fwd, len(got), len(want), err))
		}
		_ = measure.Sleep(ctx, streamPause)
	}
}

// payload is n pseudo-random bytes of stream seq: each stream's differ, so
// bytes of another stream are caught too.
func payload(seq uint64, n int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], seq)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// corrupted counts the bytes of got that differ from want at the same
// offset (and any beyond it). A whole echo is verified by its SHA-256; a
// short one (a cut stream) byte by byte.
func corrupted(want, got []byte) int64 {
	if len(got) == len(want) && sha256.Sum256(got) == sha256.Sum256(want) {
		return 0
	}
	var n int64
	for i, c := range got {
		if i >= len(want) || c != want[i] {
			n++
		}
	}
	return n
}

// fetch sends one HTTP/1.0 request through the forward on port and
// returns the answer's body (the echo backends answer with the pod's name).
func fetch(ctx context.Context, port int, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(ctx, port)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: soak\r\n\r\n"); err != nil {
		return "", fmt.Errorf("sending the request: %w", err)
	}
	br := bufio.NewReader(conn)
	if head, err := br.Peek(5); err == nil && string(head) != "HTTP/" {
		line, _ := br.ReadString('\n')
		return "", &greetedError{line: strings.TrimSpace(line)}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

// greetedError is an HTTP request answered with the backend's greeting: it
// reached the pod more than 200 ms after the connection did, and the
// backend spoke first. Slow (a loaded machine, a stalled tunnel), not lost.
type greetedError struct{ line string }

func (e *greetedError) Error() string {
	return fmt.Sprintf("greeted with %q: the request reached the pod over 200 ms after the connection", e.line)
}

// stream waits for the backend's greeting (it speaks first after 200 ms of
// silence), then sends want while it reads the echo, and returns what came
// back: all of want's length, or less and why.
func stream(ctx context.Context, port int, want []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := dial(ctx, port)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if _, err := br.ReadString('\n'); err != nil {
		return nil, fmt.Errorf("reading the greeting: %w", err)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(want)
		werr <- err
	}()
	got := make([]byte, len(want))
	n, err := io.ReadFull(br, got)
	conn.Close() // unblocks the writer
	if w := <-werr; err != nil && w != nil && !errors.Is(w, net.ErrClosed) {
		err = fmt.Errorf("%w (writing: %w)", err, w)
	}
	return got[:n], err
}

// dial connects to a forward's local port; the connection ends with ctx.
func dial(ctx context.Context, port int) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: conn, stop: stop}, nil
}

// ctxConn is a connection whose deadline passes when its context ends.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// waitAllServe waits until an HTTP request through every port has been
// answered, 20 forwards at a time, for at most within.
func waitAllServe(ctx context.Context, ports []int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	sem := make(chan struct{}, 20)
	errs := make([]error, len(ports))
	var wg sync.WaitGroup
	for i, p := range ports {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for {
				_, err := fetch(ctx, p, 5*time.Second)
				if err == nil {
					return
				}
				if measure.Sleep(ctx, 100*time.Millisecond) != nil {
					errs[i] = fmt.Errorf("f%03d (port %d) does not serve: %w", i, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("not every forward served again within %s: %w", within, firstLines(err, 3))
	}
	return nil
}

// firstLines shortens a joined error to its first n lines.
func firstLines(err error, n int) error {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) <= n {
		return err
	}
	return fmt.Errorf("%s (and %d more)", strings.Join(lines[:n], "; "), len(lines)-n)
}

// idleConn is a long-lived connection through a forward that sends nothing
// until the end: a reader notices at once when it is cut.
type idleConn struct {
	conn    net.Conn
	data    chan []byte // bytes that arrived; closed when the connection ended
	cut     atomic.Bool
	closing atomic.Bool
}

// dialGreeted connects to a forward's local port and reads the backend's
// greeting (it speaks first after 200 ms of silence), within 10 s.
func dialGreeted(ctx context.Context, port int) (net.Conn, *bufio.Reader, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	if _, err := br.ReadString('\n'); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("reading the greeting: %w", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, br, nil
}

// openIdle connects, takes the backend's greeting and watches the
// connection; onCut is called if it ends before close.
func openIdle(ctx context.Context, port int, onCut func(error)) (*idleConn, error) {
	conn, br, err := dialGreeted(ctx, port)
	if err != nil {
		return nil, err
	}
	ic := &idleConn{conn: conn, data: make(chan []byte, 64)}
	go func() {
		defer close(ic.data)
		for {
			buf := make([]byte, 4096)
			n, err := br.Read(buf)
			if n > 0 {
				ic.data <- buf[:n]
			}
			if err != nil {
				ic.cut.Store(true)
				if !ic.closing.Load() {
					onCut(err)
				}
				return
			}
		}
	}()
	return ic, nil
}

func (ic *idleConn) close() {
	ic.closing.Store(true)
	ic.conn.Close()
}

// check sends token and reads its echo: the bytes that came back wrong (or
// never came) and an error if not all of it came back right.
func (ic *idleConn) check(token []byte) (int64, error) {
	_ = ic.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := ic.conn.Write(token); err != nil {
		return 0, fmt.Errorf("writing: %w", err)
	}
	var got []byte
	timeout := time.After(10 * time.Second)
	for len(got) < len(token) {
		select {
		case b, ok := <-ic.data:
			if !ok {
				return corrupted(token, got), fmt.Errorf("cut after %d of %d bytes of the echo", len(got), len(token))
			}
			got = append(got, b...)
		case <-timeout:
			return corrupted(token, got), fmt.Errorf("%d of %d bytes of the echo within 10 s", len(got), len(token))
		}
	}
	if bad := corrupted(token, got); bad > 0 {
		return bad, fmt.Errorf("echo %q, want %q", got, token)
	}
	return 0, nil
}

// reopenIdle opens an idle connection through every forward that has none
// or whose connection was cut, 20 at a time. A forward that cannot be
// reached is booked as a failed request.
func (t *traffic) reopenIdle(ctx context.Context) error {
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i, p := range t.ports {
		t.mu.Lock()
		ic := t.idle[i]
		t.mu.Unlock()
		if ic != nil && !ic.cut.Load() {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ic, err := openIdle(ctx, p, func(err error) {
				t.row().idleCut.Add(1)
				t.log.Debug("idle connection cut", "forward", fmt.Sprintf("f%03d", i), "error", err)
			})
			if err != nil {
				t.row().fail(fmt.Errorf("opening an idle connection through f%03d: %w", i, err))
				return
			}
			t.mu.Lock()
			t.idle[i] = ic
			t.mu.Unlock()
		})
	}
	wg.Wait()
	return ctx.Err()
}

// checkIdle sends a token through every idle connection still open and
// checks its echo; bytes that came back wrong are booked as corrupted.
func (t *traffic) checkIdle(ctx context.Context) (checked, failed int) {
	t.mu.Lock()
	conns := append([]*idleConn(nil), t.idle...)
	t.mu.Unlock()
	var nfail atomic.Int64
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i, ic := range conns {
		if ic == nil || ic.cut.Load() || ctx.Err() != nil {
			continue
		}
		checked++
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			token := fmt.Appendf(nil, "idle check of f%03d: %x\n", i, rand.Uint64())
			bad, err := ic.check(token)
			t.row().corrupt.Add(bad)
			if err != nil {
				nfail.Add(1)
				t.row().noteErr(fmt.Errorf("idle connection through f%03d: %w", i, err))
			}
		})
	}
	wg.Wait()
	return checked, int(nfail.Load())
}

func (t *traffic) closeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ic := range t.idle {
		if ic != nil {
			ic.close()
		}
	}
}
