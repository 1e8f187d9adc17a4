package native

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Kept are the forwards' listeners a serving agent shares with its
// supervisor. The supervisor holds a copy of every listener the agent
// binds, so a port stays bound when the agent dies: a client that
// connects meanwhile waits in the listener's backlog instead of being
// refused, and the next serving agent inherits the listener and accepts
// it. A forward that stops tells the supervisor to close its copy first,
// so a stopped forward's port is free when Stop returns.
//
// A nil *Kept, or one without a supervisor, binds and closes listeners
// as usual.
type Kept struct {
	log  hclog.Logger
	sup  keeperLink // nil: no supervisor keeps listeners
	mu   sync.Mutex
	left map[netip.AddrPort]net.Listener // inherited, not taken by a forward yet
}

// keeperLink is the agent's link to its supervisor's keeper (kept_unix.go).
type keeperLink interface {
	keep(addr netip.AddrPort, ln net.Listener) error
	drop(addr netip.AddrPort) error
}

// Listen binds addr, or takes the listener inherited for it, and has the
// supervisor keep a copy. A supervisor that cannot keep it is logged:
// the forward then serves as before, its port closed while no agent runs.
func (k *Kept) Listen(ctx context.Context, addr string) (net.Listener, error) {
	if k != nil && k.sup != nil {
		if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Port() != 0 {
			if ln := k.take(ap); ln != nil {
				k.log.Debug("listener inherited from the supervisor", "addr", ap)
				return &keptListener{Listener: ln, k: k, addr: ap}, nil
			}
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil || k == nil || k.sup == nil {
		return ln, err
	}
	ap := addrPortOf(ln)
	if err := k.sup.keep(ap, ln); err != nil {
		k.log.Warn("the supervisor keeps no copy of the listener: it closes if this agent dies", "addr", ap, "error", err)
		return ln, nil
	}
	return &keptListener{Listener: ln, k: k, addr: ap}, nil
}

// take removes and returns the listener inherited for ap, if any.
func (k *Kept) take(ap netip.AddrPort) net.Listener {
	k.mu.Lock()
	defer k.mu.Unlock()
	ln := k.left[ap]
	delete(k.left, ap)
	return ln
}

// Release closes the inherited listener of addr (host:port) if no forward
// took it: a restored forward stopped before it served again.
func (k *Kept) Release(addr string) {
	if k == nil || k.sup == nil {
		return
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		if ln := k.take(ap); ln != nil {
			k.close(ap, ln)
		}
	}
}

// ReleaseExcept closes every inherited listener whose address is not in
// keep: the forwards that were bound but never persisted when the last
// agent died.
func (k *Kept) ReleaseExcept(keep []string) {
	if k == nil || k.sup == nil {
		return
	}
	wanted := map[netip.AddrPort]bool{}
	for _, a := range keep {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			wanted[ap] = true
		}
	}
	gone := map[netip.AddrPort]net.Listener{}
	k.mu.Lock()
	for ap, ln := range k.left {
		if !wanted[ap] {
			gone[ap] = ln
			delete(k.left, ap)
		}
	}
	k.mu.Unlock()
	for ap, ln := range gone { // outside the lock: each asks the supervisor
		k.close(ap, ln)
	}
}

// close has the supervisor close its copy of the listener of ap, then
// closes ln: the port is free once both are closed.
func (k *Kept) close(ap netip.AddrPort, ln net.Listener) error {
	if err := k.sup.drop(ap); err != nil {
		k.log.Warn("the supervisor did not close its copy of a listener", "addr", ap, "error", err)
	}
	return ln.Close()
}

// addrPortOf is ln's address as a netip.AddrPort (unmapped, so that an
// IPv4 listener matches its "a.b.c.d:port" form).
func addrPortOf(ln net.Listener) netip.AddrPort {
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(ln.Addr().String())
	return ap
}

// keptListener is a listener the supervisor keeps a copy of: closing it
// closes the copy too.
type keptListener struct {
	net.Listener
	k    *Kept
	addr netip.AddrPort
	once sync.Once
	err  error
}

func (l *keptListener) Close() error {
	l.once.Do(func() { l.err = l.k.close(l.addr, l.Listener) })
	return l.err
}
