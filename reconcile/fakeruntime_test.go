package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// fakeRuntime is a scriptable runtime.Runtime: per forward it can fail the
// next N starts, fail permanently, refuse ports as "in use", and processes
// can be killed later. It records every call.
type fakeRuntime struct {
	mu      sync.Mutex
	now     func() time.Time
	nextPID int
	procs   map[runtime.Handle]*fakeProc
	scripts map[string]*fakeScript

	starts       []startCall
	stops        []runtime.Handle
	foreignStops int // Stop calls naming a process the fake never started
	inflight     int
	maxInflight  int

	// gate, when set, makes every Start wait for a receive (or ctx).
	gate chan struct{}
	// onStart, when set, runs at the beginning of every Start.
	onStart func(s runtime.Spec)
}

type fakeProc struct {
	name      string
	startTime uint64
	alive     bool
	lastError string
}

type fakeScript struct {
	failNext  int   // fail this many more starts
	failAll   bool  // fail every start
	err       error // the error to fail with
	permanent bool
	busyPorts map[int]bool // starts on these ports fail with "address already in use"
}

type startCall struct {
	Name string
	Port int
	At   time.Time
	OK   bool
}

func newFakeRuntime(now func() time.Time) *fakeRuntime {
	if now == nil {
		now = time.Now
	}
	return &fakeRuntime{now: now, nextPID: 1000, procs: map[runtime.Handle]*fakeProc{}, scripts: map[string]*fakeScript{}}
}

// fakeHandle is the handle of fake process pid started at startTime.
func fakeHandle(pid int, startTime uint64) runtime.Handle {
	return runtime.Handle{Runtime: "fake", ID: strconv.Itoa(pid), Data: runtime.Data(fmt.Sprintf(`{"start_time":%d}`, startTime))}
}

func (r *fakeRuntime) script(name string) *fakeScript {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.scripts[name]
	if s == nil {
		s = &fakeScript{}
		r.scripts[name] = s
	}
	return s
}

func (r *fakeRuntime) setScript(name string, f func(s *fakeScript)) {
	s := r.script(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	f(s)
}

func (r *fakeRuntime) Start(ctx context.Context, s runtime.Spec) (runtime.Handle, error) {
	if r.onStart != nil {
		r.onStart(s)
	}
	if err := ctx.Err(); err != nil {
		// Like the kubectl runtime: a cancelled start stops its process.
		return runtime.Handle{}, err
	}
	r.mu.Lock()
	r.inflight++
	if r.inflight > r.maxInflight {
		r.maxInflight = r.inflight
	}
	gate := r.gate
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inflight--
		r.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return runtime.Handle{}, ctx.Err()
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	call := startCall{Name: s.Name, Port: s.LocalPort, At: r.now()}
	if s.LocalPort == 0 {
		r.starts = append(r.starts, call)
		return runtime.Handle{}, errors.New("fake: local port 0")
	}
	if sc := r.scripts[s.Name]; sc != nil {
		var err error
		switch {
		case sc.busyPorts[s.LocalPort]:
			err = fmt.Errorf("fake: listening on port %d: %w", s.LocalPort, runtime.ErrPortInUse)
		case sc.failAll || sc.failNext > 0:
			if sc.failNext > 0 {
				sc.failNext--
			}
			err = sc.err
			if err == nil {
				err = errors.New("fake: connection refused")
			}
			if sc.permanent {
				err = fmt.Errorf("%w: %w", runtime.ErrPermanent, err)
			}
		}
		if err != nil {
			r.starts = append(r.starts, call)
			return runtime.Handle{}, err
		}
	}
	call.OK = true
	r.starts = append(r.starts, call)
	r.nextPID++
	p := &fakeProc{name: s.Name, startTime: uint64(r.nextPID) * 7, alive: true}
	h := fakeHandle(r.nextPID, p.startTime)
	r.procs[h] = p
	return h, nil
}

func (r *fakeRuntime) Stop(_ context.Context, h runtime.Handle) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stops = append(r.stops, h)
	p, ok := r.procs[h]
	if !ok {
		r.foreignStops++
		return nil
	}
	p.alive = false
	return nil
}

func (r *fakeRuntime) Inspect(_ context.Context, h runtime.Handle) (runtime.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := runtime.Unknown()
	if p, ok := r.procs[h]; ok {
		st.Alive, st.LastError = p.alive, p.lastError
	}
	return st, nil
}

// kill makes the live process of forward name exit with lastErr.
func (r *fakeRuntime) kill(name, lastErr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.name == name && p.alive {
			p.alive, p.lastError = false, lastErr
			return true
		}
	}
	return false
}

func (r *fakeRuntime) startCalls() []startCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]startCall(nil), r.starts...)
}

func (r *fakeRuntime) stopCalls() []runtime.Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runtime.Handle(nil), r.stops...)
}

func (r *fakeRuntime) alive() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.procs {
		if p.alive {
			n++
		}
	}
	return n
}
