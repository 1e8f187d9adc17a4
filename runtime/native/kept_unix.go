//go:build unix

package native

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The keeper protocol, on a socket pair between a supervisor and its
// serving agent (the agent's descriptor 4): the agent sends one line at a
// time and waits for the answer ("ok", or "error TEXT").
//
//	keep ADDR   with the listener's descriptor (SCM_RIGHTS): hold a copy
//	drop ADDR   close the copy held for ADDR
//
// A new serving agent inherits the copies as descriptors 5, 6, … (their
// number in --kept-listeners).
const (
	keeperFD       = 4
	firstKeptFD    = 5
	keeperTimeout  = 5 * time.Second
	maxKeeperLine  = 256
	keeperOOBSpace = 64 // room for a few descriptors; one is expected
)

// InheritedKept is the serving agent's side of the listeners its
// supervisor keeps: the keeper link (descriptor 4) and the n listeners it
// kept of the agent before (descriptors 5 onwards). n < 0: the supervisor
// keeps none (no keeper link).
func InheritedKept(n int, log hclog.Logger) (*Kept, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	k := &Kept{log: log, left: map[netip.AddrPort]net.Listener{}}
	if n < 0 {
		return k, nil
	}
	f := os.NewFile(keeperFD, "keeper")
	if f == nil {
		return nil, errors.New("no inherited keeper link (descriptor 4)")
	}
	c, err := net.FileConn(f) // a duplicate, closed on exec
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("the inherited keeper link: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("the inherited keeper link is not a unix socket")
	}
	k.sup = &keeperClient{c: uc, br: bufio.NewReaderSize(uc, maxKeeperLine)}
	for i := range n {
		f := os.NewFile(uintptr(firstKeptFD+i), "kept")
		if f == nil {
			continue
		}
		ln, err := net.FileListener(f)
		_ = f.Close()
		if err != nil {
			log.Warn("an inherited listener is unusable", "descriptor", firstKeptFD+i, "error", err)
			continue
		}
		k.left[addrPortOf(ln)] = ln
	}
	return k, nil
}

// keeperClient is the agent's end of the keeper link.
type keeperClient struct {
	mu sync.Mutex // one request at a time
	c  *net.UnixConn
	br *bufio.Reader
}

func (l *keeperClient) keep(ap netip.AddrPort, ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return errors.New("the listener has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var callErr error
	// Sent within Control, which keeps the descriptor open meanwhile; no
	// duplicate through File(), whose Fd() would make it blocking.
	if err := raw.Control(func(fd uintptr) {
		callErr = l.call("keep "+ap.String(), syscall.UnixRights(int(fd)))
	}); err != nil {
		return err
	}
	return callErr
}

func (l *keeperClient) drop(ap netip.AddrPort) error {
	return l.call("drop "+ap.String(), nil)
}

func (l *keeperClient) call(line string, oob []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.c.SetDeadline(time.Now().Add(keeperTimeout))
	if _, _, err := l.c.WriteMsgUnix([]byte(line+"\n"), oob, nil); err != nil {
		return fmt.Errorf("telling the supervisor: %w", err)
	}
	reply, err := l.br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("the supervisor's answer: %w", err)
	}
	reply = strings.TrimSuffix(reply, "\n")
	if reply == "ok" {
		return nil
	}
	return errors.New("the supervisor: " + strings.TrimPrefix(reply, "error "))
}

// keeper is the supervisor's side: the copies of the serving agent's
// listeners it holds, by address.
type keeper struct {
	log  hclog.Logger
	mu   sync.Mutex
	held map[string]*os.File
}

func newKeeper(log hclog.Logger) *keeper {
	return &keeper{log: log, held: map[string]*os.File{}}
}

// files are the held copies, by address, for the next serving agent.
func (k *keeper) files() []*os.File {
	k.mu.Lock()
	defer k.mu.Unlock()
	addrs := make([]string, 0, len(k.held))
	for a := range k.held {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	out := make([]*os.File, len(addrs))
	for i, a := range addrs {
		out[i] = k.held[a]
	}
	return out
}

// closeAll closes every held copy (the supervisor exits).
func (k *keeper) closeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for a, f := range k.held {
		_ = f.Close()
		delete(k.held, a)
	}
}

// link returns a new socket pair: the supervisor's end, served by serve,
// and the serving agent's end, to pass as its descriptor 4.
func (k *keeper) link() (*net.UnixConn, *os.File, error) {
	syscall.ForkLock.RLock() // no exec may inherit them before close-on-exec is set
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("the keeper link: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "keeper")
	c, err := net.FileConn(mine)
	_ = mine.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("the keeper link: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "keeper-agent"), nil
}

// serve answers the serving agent's requests on c until it closes (the
// agent exited).
func (k *keeper) serve(c *net.UnixConn) {
	buf := make([]byte, maxKeeperLine)
	oob := make([]byte, syscall.CmsgSpace(keeperOOBSpace))
	var line []byte
	var fds []int
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			fds = append(fds, parseRights(oob[:oobn])...)
		}
		if err != nil {
			closeFDs(fds)
			return
		}
		line = append(line, buf[:n]...)
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			if len(line) > maxKeeperLine {
				closeFDs(fds)
				k.log.Warn("the keeper link sent a line too long: closing it")
				return
			}
			continue
		}
		reply := k.handle(string(line[:i]), fds)
		line, fds = line[:0], nil
		if _, err := c.Write([]byte(reply + "\n")); err != nil {
			return
		}
	}
}

// handle carries out one request; it owns fds.
func (k *keeper) handle(line string, fds []int) string {
	op, addr, _ := strings.Cut(line, " ")
	if _, err := netip.ParseAddrPort(addr); err != nil {
		closeFDs(fds)
		return "error bad address " + fmt.Sprintf("%q", addr)
	}
	switch {
	case op == "keep" && len(fds) == 1:
		syscall.CloseOnExec(fds[0])
		f := os.NewFile(uintptr(fds[0]), addr)
		k.mu.Lock()
		if old := k.held[addr]; old != nil {
			_ = old.Close()
		}
		k.held[addr] = f
		n := len(k.held)
		k.mu.Unlock()
		// No address in the supervisor's log: it is not scrubbed of the
		// forwards' sensitive values (an address may be one).
		k.log.Debug("keeping a listener", "held", n)
		return "ok"
	case op == "drop" && len(fds) == 0:
		k.mu.Lock()
		if f := k.held[addr]; f != nil {
			_ = f.Close()
			delete(k.held, addr)
		}
		n := len(k.held)
		k.mu.Unlock()
		k.log.Debug("dropped a listener", "held", n)
		return "ok"
	default:
		closeFDs(fds)
		return fmt.Sprintf("error bad request %q with %d descriptors", op, len(fds))
	}
}

// parseRights returns the descriptors an SCM_RIGHTS message carried.
func parseRights(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}
