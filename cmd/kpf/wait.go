package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/spec/model"
)

// defaultWait is how long apply --wait (without a duration) and kpf run
// wait for the forwards to serve.
const defaultWait = 2 * time.Minute

// A wait observes the forwards again after waitPollFirst, then twice as
// long each time up to waitPollMax: a forward that serves at once is seen
// at once, one that takes long costs few observations.
const (
	waitPollFirst = 20 * time.Millisecond
	waitPollMax   = 50 * time.Millisecond
)

// waitServing returns once every forward named serves, or an error naming
// those that do not, and why, once timeout has passed. A forward serves
// when it runs and its health check passed; one whose checks are off
// (health { none = true }) or, with the native runtime, that no health
// block makes checked while idle is reached through: the wait holds a
// connection open through it, which makes the agent open a tunnel to a
// Ready pod and check it, and counts the forward serving once that check
// passed (none = true: once the runtime names the pod it sends
// connections to, or, for kubectl, once the connection was accepted).
func (a *app) waitServing(ctx context.Context, s *session, names []string, timeout time.Duration) error {
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	specs := make(map[string]spec.Forward, len(s.forwards))
	for _, f := range s.forwards {
		specs[f.Name] = f
	}
	conns := map[string]net.Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	why := map[string]string{}
	pending := append([]string(nil), names...)
	poll := waitPollFirst
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		actual := s.observe(ctx)
		next := pending[:0]
		for _, name := range pending {
			ok, reason := a.serves(ctx, specs[name], actual[name], conns)
			if ok {
				a.log.Debug("forward serves", "forward", name)
				delete(why, name)
				continue
			}
			why[name] = reason
			next = append(next, name)
		}
		pending = next
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return waitError(ctx, pending, why, timeout)
		case <-timer.C:
			poll = min(2*poll, waitPollMax)
			timer.Reset(poll)
		}
	}
}

// serves judges one forward; conns holds the connections the wait keeps
// open through forwards, by name.
func (a *app) serves(ctx context.Context, f spec.Forward, ob reconcile.Observed, conns map[string]net.Conn) (bool, string) {
	if !ob.Alive {
		if ob.LastError != "" {
			return false, "not running: " + ob.LastError
		}
		return false, "not running"
	}
	checked := f.Health.Declared && f.Health.Kind != spec.HealthNone
	if checked {
		if ob.Health == reconcile.HealthHealthy {
			return true, ""
		}
		return false, healthReason(ob)
	}
	if ob.Health == reconcile.HealthHealthy {
		return true, ""
	}
	// Reach the pod through the forward: a connection held open makes the
	// agent open a tunnel (and check it while it is open).
	if c := conns[f.Name]; c != nil && connClosed(c) {
		_ = c.Close()
		delete(conns, f.Name)
	}
	if conns[f.Name] == nil {
		host := model.DialAddress(f.Address)
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(ob.State.LocalPort)))
		if err != nil {
			return false, fmt.Sprintf("connecting through it: %v", err)
		}
		conns[f.Name] = c
	}
	if f.Health.Kind == spec.HealthNone || ob.Health == reconcile.HealthNone {
		switch {
		case ob.Runtime.Active < 0: // the runtime does not count (kubectl): accepted is all we learn
			return true, ""
		case ob.Runtime.Pod != "" && ob.Runtime.Active > 0:
			return true, ""
		}
		return false, "no pod reached yet"
	}
	return false, healthReason(ob)
}

// connClosed reports whether the far end closed c (the agent found no Ready
// pod in time), without blocking and without losing anything: the wait
// never sends, so a read of data only means the pod spoke first.
func connClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [256]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	if err == nil {
		return false
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func healthReason(ob reconcile.Observed) string {
	h := string(ob.Health)
	if h == "" {
		h = string(reconcile.HealthUnknown)
	}
	if ob.HealthError != "" {
		return "health " + h + ": " + ob.HealthError
	}
	if ob.Health == reconcile.HealthUnknown || ob.Health == reconcile.HealthIdle {
		return "health " + h + ": no check has passed yet"
	}
	return "health " + h
}

func waitError(ctx context.Context, pending []string, why map[string]string, timeout time.Duration) error {
	sort.Strings(pending)
	lines := make([]string, len(pending))
	for i, n := range pending {
		lines[i] = fmt.Sprintf("  forward.%s: %s", termtext.Escape(n), termtext.Escape(why[n]))
	}
	what := fmt.Sprintf("within %s", timeout)
	if ctx.Err() == context.Canceled {
		what = "before the wait was interrupted"
	}
	noun := "forward does"
	if len(pending) > 1 {
		noun = "forwards do"
	}
	return fmt.Errorf("%d %s not serve %s:\n%s", len(pending), noun, what, strings.Join(lines, "\n"))
}
