package engine

import (
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
)

// A panic in one goroutine would end the agent and every forward it holds.
// Each goroutine that serves a connection or a forward therefore recovers
// what panics in it (its own code, client-go, the streams' libraries) and
// fails only its own work: that connection, that dial, that forward.

// panicError is a recovered panic, with the stack of the goroutine that
// panicked.
type panicError struct {
	what  string
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("internal error while %s: %v", p.what, p.value)
}

// recovered makes r, just recovered while doing what, an error; call it in
// the deferred function, where the stack is still the panic's.
func recovered(what string, r any) *panicError {
	return &panicError{what: what, value: r, stack: debug.Stack()}
}

// logPanic logs p with its stack.
func logPanic(log hclog.Logger, p *panicError) {
	log.Error("recovered from a panic", "while", p.what, "panic", fmt.Sprint(p.value), "stack", string(p.stack))
}

// panicked logs r, just recovered while doing what, with its stack, and
// returns it as an error.
func panicked(log hclog.Logger, what string, r any) error {
	p := recovered(what, r)
	logPanic(log, p)
	return p
}

// catch, deferred in a goroutine of one connection, turns a panic into the
// failure of that connection: logged with its stack, shown as the
// forward's last error.
func (f *Forward) catch(what string) {
	r := recover()
	if r == nil {
		return
	}
	err := panicked(f.log, what, r)
	f.setLastError(err)
	f.event(Event{Kind: EventConnFailed, Message: err.Error()})
}

// catchAccept, deferred in the accept loop, turns a panic into the end of
// this forward only: it stops listening, so its status shows it dead with
// the panic as its last error (and reconcile starts it again); the
// connections it serves and the other forwards go on.
func (f *Forward) catchAccept() {
	r := recover()
	if r == nil {
		return
	}
	err := panicked(f.log, "accepting connections", r)
	f.listening.Store(false)
	f.ln.Close()
	f.setLastError(err)
	f.event(Event{Kind: EventError, Message: err.Error()})
}

// recoverInto, deferred in a goroutine of a health check, turns a panic
// into the check's failure: logged with its stack and sent on result (a
// buffered channel the check reads at most once; nil: nobody waits).
func (f *Forward) recoverInto(result chan<- error, what string) {
	r := recover()
	if r == nil {
		return
	}
	err := panicked(f.log, what, r)
	if result == nil {
		return
	}
	select {
	case result <- err:
	default: // the goroutine had sent already
	}
}

// closeQuietly closes c in the background goroutine that calls it, where
// a panicking Close must not end the process.
func closeQuietly(log hclog.Logger, c interface{ Close() error }) {
	defer func() {
		if r := recover(); r != nil {
			_ = panicked(log, "closing a tunnel", r)
		}
	}()
	_ = c.Close()
}
