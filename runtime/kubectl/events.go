package kubectl

import (
	"context"
	"errors"
	"sync"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// exitBroker tells waiters when a process this Runtime started exits, on
// platforms where a process kpf did not start cannot be waited for.
type exitBroker struct {
	mu      sync.Mutex
	waiters map[proc.ID][]chan struct{}
	// gone: the latest exits (at most maxGone, oldest first in order), for
	// a waiter that comes after the exit; a watch asks again within one
	// pass, so a long-lived Runtime need not remember every exit.
	gone  map[proc.ID]bool
	order []proc.ID
}

// maxGone bounds the exits an exitBroker remembers.
const maxGone = 1024

func (b *exitBroker) exited(id proc.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gone == nil {
		b.gone = make(map[proc.ID]bool)
	}
	if !b.gone[id] {
		if len(b.order) == maxGone {
			delete(b.gone, b.order[0])
			b.order = append(b.order[:0], b.order[1:]...)
		}
		b.gone[id] = true
		b.order = append(b.order, id)
	}
	for _, ch := range b.waiters[id] {
		close(ch)
	}
	delete(b.waiters, id)
}

// wait returns a channel closed once id, a child of this Runtime, exits
// (at once if it already has), and a function that forgets the waiter.
func (b *exitBroker) wait(id proc.ID) (<-chan struct{}, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if b.gone[id] {
		close(ch)
		return ch, func() {}
	}
	if b.waiters == nil {
		b.waiters = make(map[proc.ID][]chan struct{})
	}
	b.waiters[id] = append(b.waiters[id], ch)
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		list := b.waiters[id]
		for i, c := range list {
			if c == ch {
				b.waiters[id] = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(b.waiters[id]) == 0 {
			delete(b.waiters, id)
		}
	}
}

// Watch reports the exit of every forward process hs names, whoever
// started it: on Linux through a pidfd per process (no threads held, no
// polling); elsewhere only for processes this Runtime started (others are
// seen by the caller's next check). The channel closes when ctx ends.
func (r *Runtime) Watch(ctx context.Context, hs []runtime.Handle) <-chan runtime.Event {
	out := make(chan runtime.Event)
	var wg sync.WaitGroup
	for _, h := range hs {
		d, err := decodeHandle(h)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := proc.WaitExit(ctx, d.ID)
			if errors.Is(err, errors.ErrUnsupported) {
				exited, forget := r.exits.wait(d.ID)
				select {
				case <-exited:
					err = nil
				case <-ctx.Done():
					err = ctx.Err()
				}
				forget()
			}
			if err != nil {
				if ctx.Err() == nil {
					r.log().Debug("cannot wait for the forward's exit; the next check will see it", "pid", d.PID, "error", err)
				}
				return
			}
			select {
			case out <- runtime.Event{Handle: h, Kind: runtime.EventExited, Detail: "kubectl exited"}:
			case <-ctx.Done():
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}
