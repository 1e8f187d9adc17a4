package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mux is the one Runtime the rest of kpf sees: it starts a forward with the
// runtime its Spec names (Default when it names none) and stops and inspects
// a forward with the runtime that made its Handle, so a workspace can hold
// forwards of several runtimes at once (during a migration).
type Mux struct {
	// Default names the runtime of specs that name none.
	Default string
	// Runtimes by name. A handle of a runtime not here is reported, never
	// touched.
	Runtimes map[string]Runtime
}

var (
	_ Runtime       = (*Mux)(nil)
	_ Events        = (*Mux)(nil)
	_ Sweeper       = (*Mux)(nil)
	_ ManyInspector = (*Mux)(nil)
	_ Parallelism   = (*Mux)(nil)
	_ Logs          = (*Mux)(nil)
	_ IdleStopper   = (*Mux)(nil)
)

func (m *Mux) get(name string) (Runtime, error) {
	if name == "" {
		name = m.Default
	}
	if rt, ok := m.Runtimes[name]; ok {
		return rt, nil
	}
	known := make([]string, 0, len(m.Runtimes))
	for n := range m.Runtimes {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, Permanent(fmt.Errorf("unknown runtime %q (this kpf has %s)", name, strings.Join(known, ", ")))
}

// Start starts s with the runtime s.Runtime names.
func (m *Mux) Start(ctx context.Context, s Spec) (Handle, error) {
	rt, err := m.get(s.Runtime)
	if err != nil {
		return Handle{}, err
	}
	return rt.Start(ctx, s)
}

// Stop stops h with the runtime that made it.
func (m *Mux) Stop(ctx context.Context, h Handle) error {
	if h.IsZero() {
		return nil
	}
	rt, err := m.get(h.Runtime)
	if err != nil {
		return fmt.Errorf("stopping %s: %w", h, err)
	}
	return rt.Stop(ctx, h)
}

// Inspect inspects h with the runtime that made it.
func (m *Mux) Inspect(ctx context.Context, h Handle) (Status, error) {
	rt, err := m.get(h.Runtime)
	if err != nil {
		return Unknown(), fmt.Errorf("inspecting %s: %w", h, err)
	}
	return rt.Inspect(ctx, h)
}

// Watch merges the events of every runtime that reports them, each given
// the handles it made.
func (m *Mux) Watch(ctx context.Context, hs []Handle) <-chan Event {
	by := make(map[string][]Handle)
	for _, h := range hs {
		if !h.IsZero() {
			by[h.Runtime] = append(by[h.Runtime], h)
		}
	}
	out := make(chan Event)
	var wg sync.WaitGroup
	for name, list := range by {
		ev, ok := m.Runtimes[name].(Events)
		if !ok {
			continue
		}
		ch := ev.Watch(ctx, list)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range ch {
				select {
				case out <- e:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// Sweep asks every runtime that can sweep to stop its forwards that keep
// does not name.
func (m *Mux) Sweep(ctx context.Context, keep []Handle) ([]string, error) {
	names := make([]string, 0, len(m.Runtimes))
	for n := range m.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	var errs []error
	for _, n := range names {
		sw, ok := m.Runtimes[n].(Sweeper)
		if !ok {
			continue
		}
		var mine []Handle
		for _, h := range keep {
			if h.Runtime == n {
				mine = append(mine, h)
			}
		}
		stopped, err := sw.Sweep(ctx, mine)
		out = append(out, stopped...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s runtime: %w", n, err))
		}
	}
	return out, errors.Join(errs...)
}

// InspectMany inspects hs, one batch per runtime where the runtime can.
func (m *Mux) InspectMany(ctx context.Context, hs []Handle) ([]Status, []error) {
	sts, errs := make([]Status, len(hs)), make([]error, len(hs))
	by := make(map[string][]int)
	for i, h := range hs {
		by[h.Runtime] = append(by[h.Runtime], i)
	}
	for name, idx := range by {
		list := make([]Handle, len(idx))
		for j, i := range idx {
			list[j] = hs[i]
		}
		var s []Status
		var e []error
		rt, err := m.get(name)
		switch {
		case err != nil:
			for j := range idx {
				sts[idx[j]], errs[idx[j]] = Unknown(), fmt.Errorf("inspecting %s: %w", hs[idx[j]], err)
			}
			continue
		default:
			if many, ok := rt.(ManyInspector); ok {
				s, e = many.InspectMany(ctx, list)
			} else {
				s, e = InspectEach(ctx, rt, list)
			}
		}
		for j, i := range idx {
			sts[i], errs[i] = s[j], e[j]
		}
	}
	return sts, errs
}

// Parallel asks the named runtime (the default for "") for its bound.
func (m *Mux) Parallel(name string) int {
	if name == "" {
		name = m.Default
	}
	if p, ok := m.Runtimes[name].(Parallelism); ok {
		return p.Parallel(name)
	}
	return 0
}

// KeepsLogs reports whether the runtime that made h keeps the forward's
// log itself, for Logs to print; otherwise the log is a file the forward's
// process writes (kubectl's runtime) and the caller reads it.
func (m *Mux) KeepsLogs(h Handle) bool {
	rt, err := m.get(h.Runtime)
	if err != nil {
		return false
	}
	_, ok := rt.(Logs)
	return ok
}

// Logs writes the log of h by the runtime that made it (see KeepsLogs).
func (m *Mux) Logs(ctx context.Context, h Handle, follow bool, w io.Writer) error {
	rt, err := m.get(h.Runtime)
	if err != nil {
		return fmt.Errorf("the log of %s: %w", h, err)
	}
	l, ok := rt.(Logs)
	if !ok {
		return Permanent(fmt.Errorf("the log of %s: runtime %s keeps none of its own", h, h.Runtime))
	}
	return l.Logs(ctx, h, follow, w)
}

// StopIdle asks every runtime that keeps a process between forwards to end
// it now if it serves none (after kpf destroy nothing should wait for its
// idle exit). The caller holds the workspace lock, so no Start races it.
func (m *Mux) StopIdle(ctx context.Context) error {
	names := make([]string, 0, len(m.Runtimes))
	for n := range m.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if s, ok := m.Runtimes[n].(IdleStopper); ok {
			if err := s.StopIdle(ctx); err != nil {
				errs = append(errs, fmt.Errorf("runtime %s: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}
