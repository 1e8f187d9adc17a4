package native

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// Protocol is the version of the CLI–agent protocol. An agent refuses a
// request of another protocol version; the CLI then replaces the agent.
const Protocol = 1

// SocketName is the agent's socket in the workspace's state directory.
const SocketName = "agent.sock"

// maxSocketPath is the longest unix socket path every platform accepts
// (macOS: 104 bytes including the terminating NUL).
const maxSocketPath = 103

// SocketPath is the agent's socket of the workspace whose state is in dir.
func SocketPath(dir string) (string, error) {
	p := filepath.Join(dir, SocketName)
	if len(p) > maxSocketPath {
		return "", runtime.Permanent(fmt.Errorf("the agent socket path %s is longer than the %d bytes a unix socket allows; set KPF_STATE_DIR to a shorter directory", p, maxSocketPath))
	}
	return p, nil
}

// Ops.
const (
	opHello    = "hello"    // -> Hello
	opStart    = "start"    // Forward, Kubeconfig -> ID
	opStop     = "stop"     // ID
	opStatus   = "status"   // IDs -> Statuses
	opWatch    = "watch"    // IDs -> a stream of Exited, until the client hangs up
	opEvents   = "events"   // ID, Since, Follow -> a stream of Event
	opSweep    = "sweep"    // Keep -> Stopped
	opShutdown = "shutdown" // the agent stops every forward and exits
)

// request is one line from the CLI.
type request struct {
	Protocol   int             `json:"protocol"`
	Op         string          `json:"op"`
	Version    string          `json:"version,omitempty"`
	Forward    *wireForward    `json:"forward,omitempty"`
	Kubeconfig *wireKubeconfig `json:"kubeconfig,omitempty"`
	ID         string          `json:"id,omitempty"`
	IDs        []string        `json:"ids,omitempty"`
	Keep       []string        `json:"keep,omitempty"`
	Since      int             `json:"since,omitempty"`
	Follow     bool            `json:"follow,omitempty"`
	// StateDir is the absolute state directory of the CLI's workspace;
	// an agent serving another refuses the request (hello excepted: the
	// CLI checks the one hello names).
	StateDir string `json:"state_dir,omitempty"`
}

// response is one line from the agent. A stream sends several, each with
// one of Exited or Event set.
type response struct {
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`
	PortInUse bool   `json:"port_in_use,omitempty"`
	NoPod     bool   `json:"no_pod,omitempty"`

	Hello    *hello                `json:"hello,omitempty"`
	ID       string                `json:"id,omitempty"`
	Statuses map[string]wireStatus `json:"statuses,omitempty"`
	Stopped  []string              `json:"stopped,omitempty"`
	Exited   string                `json:"exited,omitempty"`
	Event    *wireEvent            `json:"event,omitempty"`
}

// hello is what an agent says of itself.
type hello struct {
	Version  string    `json:"version"`
	Protocol int       `json:"protocol"`
	PID      int       `json:"pid"`
	Instance string    `json:"instance"` // unique per agent process
	Started  time.Time `json:"started"`
	Forwards int       `json:"forwards"`

	// Supervisor is the pid of the process that restarts this one when it
	// dies (0: none); Restarts how often it did, RestartCause why last.
	Supervisor   int    `json:"supervisor,omitempty"`
	Restarts     int    `json:"restarts,omitempty"`
	RestartCause string `json:"restart_cause,omitempty"`
	// StateDir is the absolute state directory the agent serves: a CLI
	// refuses an agent of another workspace's (reached through a link).
	// Agents before it was added leave it empty.
	StateDir string `json:"state_dir,omitempty"`
}

// errorResponse encodes err with the sentinels a caller branches on.
func errorResponse(err error) response {
	return response{
		Error:     err.Error(),
		Permanent: runtime.IsPermanent(err),
		PortInUse: errors.Is(err, runtime.ErrPortInUse),
		NoPod:     errors.Is(err, runtime.ErrNoPod),
	}
}

// agentError is an error the agent reported, carrying its sentinels again.
type agentError struct {
	msg  string
	errs []error
}

func (e *agentError) Error() string   { return e.msg }
func (e *agentError) Unwrap() []error { return e.errs }

func (r *response) err() error {
	if r.Error == "" {
		return nil
	}
	e := &agentError{msg: r.Error}
	if r.Permanent {
		e.errs = append(e.errs, runtime.ErrPermanent)
	}
	if r.PortInUse {
		e.errs = append(e.errs, runtime.ErrPortInUse)
	}
	if r.NoPod {
		e.errs = append(e.errs, runtime.ErrNoPod)
	}
	return e
}

// conn is one client connection to the agent.
type conn struct {
	c   net.Conn
	dec *json.Decoder
}

// errNoAgent means no agent answers on the socket.
var errNoAgent = errors.New("no agent is running")

// dial connects to the agent's socket, refusing a socket file that is a
// link (to another workspace's agent) or another user's.
func dial(ctx context.Context, socket string) (*conn, error) {
	fi, err := os.Lstat(socket)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", errNoAgent, err)
	}
	if err := checkSocketFile(fi); err != nil {
		return nil, runtime.Permanent(fmt.Errorf("refusing the agent socket %s: %w", socket, err))
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", errNoAgent, err)
	}
	return &conn{c: c, dec: json.NewDecoder(bufio.NewReader(c))}, nil
}

func (c *conn) close() error { return c.c.Close() }

// send writes one request.
func (c *conn) send(req request) error {
	req.Protocol = Protocol
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = c.c.Write(append(b, '\n'))
	return err
}

// recv reads one response.
func (c *conn) recv() (response, error) {
	var r response
	if err := c.dec.Decode(&r); err != nil {
		return r, err
	}
	return r, nil
}

// call sends req and reads one response, bounded by ctx.
func call(ctx context.Context, socket string, req request) (response, error) {
	c, err := dial(ctx, socket)
	if err != nil {
		return response{}, err
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Now()) })
	defer stop()
	if err := c.send(req); err != nil {
		if hungUp(err) {
			return response{}, fmt.Errorf("%w (it hung up: %v)", errNoAgent, err)
		}
		return response{}, fmt.Errorf("talking to the agent: %w", err)
	}
	r, err := c.recv()
	if err != nil {
		if ctx.Err() != nil {
			return response{}, ctx.Err()
		}
		if hungUp(err) {
			return response{}, fmt.Errorf("%w (it hung up: %v)", errNoAgent, err)
		}
		return response{}, fmt.Errorf("reading the agent's answer: %w", err)
	}
	return r, r.err()
}

// hungUp reports whether err means the agent closed the connection without
// an answer: it is dying (an agent killed just now may still have accepted
// the connection) or gone. An agent that lives answers every request.
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// fileKind names what a file of mode m is, for errors.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	default:
		return "a " + m.Type().String() + " file"
	}
}
