//go:build unix

package native

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// keptPair is a keeper served on one end of a real socket pair and a Kept
// on the other, as a supervisor and its serving agent have them.
func keptPair(t *testing.T) (*keeper, *Kept) {
	t.Helper()
	kp := newKeeper(hclog.NewNullLogger())
	link, agentEnd, err := kp.link()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); kp.serve(link) }()
	c, err := net.FileConn(agentEnd)
	agentEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	uc := c.(*net.UnixConn)
	t.Cleanup(func() { uc.Close(); link.Close(); <-done; kp.closeAll() })
	return kp, &Kept{log: hclog.NewNullLogger(), sup: &keeperClient{c: uc, br: bufio.NewReader(uc)}, left: map[netip.AddrPort]net.Listener{}}
}

// free reports whether addr can be bound (nothing holds its port).
func free(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
	}
	return err == nil
}

// TestKeptListenerLifecycle: a bound listener's copy is held by the
// keeper; closing the listener closes the copy (the port is free); a copy
// passed on to the next agent and taken by no forward is released.
func TestKeptListenerLifecycle(t *testing.T) {
	kp, k := keptPair(t)
	ln, err := k.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if n := len(kp.files()); n != 1 {
		t.Fatalf("the keeper holds %d copies, want 1", n)
	}
	ln.Close()
	if n := len(kp.files()); n != 0 || !free(addr) {
		t.Fatalf("after Close: %d copies held, port free %v; want none, free", n, free(addr))
	}

	// Two forwards bound; the agent dies: the next one inherits both
	// copies, takes one for its persisted forward, releases the other.
	a, _ := k.Listen(context.Background(), "127.0.0.1:0")
	b, _ := k.Listen(context.Background(), "127.0.0.1:0")
	aAddr, bAddr := a.Addr().String(), b.Addr().String()
	a.(*keptListener).Listener.Close() // the dead agent's descriptors
	b.(*keptListener).Listener.Close()
	// The next agent, on the same keeper, inherits the copies (taken
	// under the keeper's lock, as exec takes them while no agent runs).
	next := &Kept{log: k.log, sup: k.sup, left: map[netip.AddrPort]net.Listener{}}
	kp.mu.Lock()
	for _, f := range kp.held {
		l, err := net.FileListener(f)
		if err != nil {
			t.Fatal(err)
		}
		next.left[addrPortOf(l)] = l
	}
	kp.mu.Unlock()
	next.ReleaseExcept([]string{aAddr})
	if free(aAddr) || !free(bAddr) {
		t.Errorf("after ReleaseExcept(a): a free %v, b free %v; want a kept, b free", free(aAddr), free(bAddr))
	}
	got, err := next.Listen(context.Background(), aAddr)
	if err != nil {
		t.Fatalf("the persisted forward's listen: %v; want the inherited listener", err)
	}
	got.Close()
	if !free(aAddr) || len(kp.files()) != 0 {
		t.Errorf("after the restored forward stopped: a free %v, %d copies held", free(aAddr), len(kp.files()))
	}
}

func TestKeeperRefusesBadRequests(t *testing.T) {
	kp := newKeeper(hclog.NewNullLogger())
	for _, tc := range []struct{ line, want string }{
		{"keep 127.0.0.1:80", "bad request"}, // no descriptor
		{"drop nowhere", "bad address"},
		{"open 127.0.0.1:80", "bad request"},
		{"drop 127.0.0.1:80", "ok"}, // nothing held: nothing to do
	} {
		if got := kp.handle(tc.line, nil); !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.line, got, tc.want)
		}
	}
}
