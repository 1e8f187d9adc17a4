package runtime

import (
	"context"
	"errors"
	"fmt"
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
