package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// maxParallelProbes bounds the health probes of one Observe call.
const maxParallelProbes = 16

// Observer turns the state file into Actual: which remembered processes
// are alive (runtime.Inspect) and how healthy they are (HealthProber).
//
// An Observer remembers the last probe of each forward, so that a forward
// is probed at most once per its health interval and is only called
// unhealthy after FailureThreshold consecutive failed probes. Reuse one
// Observer across passes (watch mode); it is safe for concurrent use.
type Observer struct {
	Runtime runtime.Runtime
	// Prober checks health; nil means health is not probed (HealthUnknown).
	Prober HealthProber
	// Now is the time source for probe intervals; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	records map[string]*probeRecord
}

// probeRecord is what the Observer remembers of one forward's probes.
type probeRecord struct {
	handle   runtime.Handle
	port     int
	last     time.Time // when the last probe ran; zero = never
	failures int       // consecutive failed probes
	verdict  HealthState
	err      string
}

type probeJob struct {
	name string
	f    model.Forward
	port int
	err  error
}

// Observe reports the actual state of every forward in st. forwards gives
// the health configuration per name (forwards not in st are ignored;
// entries of st not in forwards are observed but not probed). Only alive
// forwards are probed. Observe never fails: an Inspect error counts as not
// alive, with the error as LastError.
func (o *Observer) Observe(ctx context.Context, st *state.File, forwards []model.Forward) Actual {
	return o.observe(ctx, st, forwards, true)
}

// Peek is Observe without probes: every forward is inspected (the runtime's
// own counters and health are current) but a forward kpf probes shows the
// verdict of the last probe Observe made of the same process and port
// (HealthUnknown if none). It forgets nothing. The live view calls it every
// second while the watch, sharing the Observer, probes at its own pace.
func (o *Observer) Peek(ctx context.Context, st *state.File, forwards []model.Forward) Actual {
	return o.observe(ctx, st, forwards, false)
}

func (o *Observer) observe(ctx context.Context, st *state.File, forwards []model.Forward, probe bool) Actual {
	if st == nil || len(st.Forwards) == 0 {
		if probe {
			o.prune(nil)
		}
		return Actual{}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	byName := make(map[string]int, len(forwards))
	for i := range forwards {
		byName[forwards[i].Name] = i
	}

	actual := make(Actual, len(st.Forwards))
	var jobs []probeJob
	inspected := o.inspectAll(ctx, st)

	o.mu.Lock()
	if o.records == nil {
		o.records = make(map[string]*probeRecord, len(st.Forwards))
	}
	t := now()
	for name, sf := range st.Forwards {
		ob := inspected.observed(sf)
		if i, inSpec := byName[name]; inSpec && ob.Alive {
			if job := o.health(&ob, name, forwards[i], probe, t); job != nil {
				jobs = append(jobs, *job)
			}
		}
		actual[name] = ob
	}
	o.mu.Unlock()

	o.runProbes(ctx, jobs)

	o.recordProbes(jobs, t, actual)
	if probe {
		o.prune(st.Forwards)
	}
	return actual
}

// observed is what the runtime says of forward sf (not its health yet).
func (in inspections) observed(sf state.Forward) Observed {
	ob := Observed{State: sf, Health: HealthUnknown, LastError: sf.LastError}
	if sf.Handle.IsZero() {
		return ob
	}
	r := in[sf.Handle]
	ob.Runtime = r.status
	if r.err != nil {
		ob.LastError = fmt.Sprintf("inspecting %s: %v", sf.Handle, r.err)
		return ob
	}
	ob.Alive = r.status.Alive
	if r.status.LastError != "" {
		ob.LastError = r.status.LastError
	}
	return ob
}

// health sets the health of ob, a live forward of the spec (f): the
// runtime's own verdict when it checks the forward, else the last probe's,
// or, when probing and a probe is due at t, the probe to make. o.mu is
// held.
func (o *Observer) health(ob *Observed, name string, f model.Forward, probe bool, t time.Time) *probeJob {
	sf := ob.State
	switch {
	case ob.Runtime.Health != "":
		// The runtime checks the forward itself (the native agent,
		// through its tunnel): a probe of the local port would only
		// open a tunnel that should stay idle.
		ob.Health, ob.HealthError = HealthState(ob.Runtime.Health), ob.Runtime.HealthError
		if ob.Health == HealthHealthy || ob.Health == HealthNone {
			ob.HealthError = ""
		}
	case f.Health.Kind == model.HealthNone:
		ob.Health = HealthNone
	case o.Prober != nil && !probe:
		if rec := o.records[name]; rec != nil && rec.handle == sf.Handle && rec.port == sf.LocalPort {
			ob.Health, ob.HealthError = rec.verdict, rec.err
		}
	case o.Prober != nil:
		rec := o.records[name]
		if rec == nil || rec.handle != sf.Handle || rec.port != sf.LocalPort {
			rec = &probeRecord{handle: sf.Handle, port: sf.LocalPort, verdict: HealthUnknown}
			o.records[name] = rec
		}
		interval := f.Health.Interval
		if interval <= 0 {
			interval = runtime.DefaultHealthInterval
		}
		if rec.last.IsZero() || t.Sub(rec.last) >= interval {
			return &probeJob{name: name, f: f, port: sf.LocalPort}
		}
		ob.Health, ob.HealthError = rec.verdict, rec.err
	}
	return nil
}

// recordProbes records the probes made at t and sets the health they
// settle in actual: healthy at once, unhealthy after FailureThreshold
// failures in a row.
func (o *Observer) recordProbes(jobs []probeJob, t time.Time, actual Actual) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, j := range jobs {
		rec := o.records[j.name]
		rec.last = t
		threshold := j.f.Health.FailureThreshold
		if threshold <= 0 {
			threshold = runtime.DefaultHealthThreshold
		}
		if j.err == nil {
			rec.failures, rec.verdict, rec.err = 0, HealthHealthy, ""
		} else {
			rec.failures++
			rec.err = j.err.Error()
			if rec.failures >= threshold {
				rec.verdict = HealthUnhealthy
			}
			// Below the threshold the last settled verdict stands.
		}
		ob := actual[j.name]
		ob.Health, ob.HealthError = rec.verdict, rec.err
		actual[j.name] = ob
	}
}

type inspection struct {
	status runtime.Status
	err    error
}

// inspections are the results of inspectAll, by handle.
type inspections map[runtime.Handle]inspection

// inspectAll inspects every handle of st: in one call per runtime where
// the runtime can (the native agent answers for all its forwards at once),
// else one Inspect each. It runs without o.mu held.
func (o *Observer) inspectAll(ctx context.Context, st *state.File) inspections {
	hs := make([]runtime.Handle, 0, len(st.Forwards))
	for _, sf := range st.Forwards {
		if !sf.Handle.IsZero() {
			hs = append(hs, sf.Handle)
		}
	}
	out := make(map[runtime.Handle]inspection, len(hs))
	if many, ok := o.Runtime.(runtime.ManyInspector); ok {
		statuses, errs := many.InspectMany(ctx, hs)
		for i, h := range hs {
			out[h] = inspection{statuses[i], errs[i]}
		}
		return out
	}
	for _, h := range hs {
		st, err := o.Runtime.Inspect(ctx, h)
		out[h] = inspection{st, err}
	}
	return out
}

// runProbes runs the jobs, at most maxParallelProbes at a time, storing
// each result in its job.
func (o *Observer) runProbes(ctx context.Context, jobs []probeJob) {
	if len(jobs) == 1 {
		jobs[0].err = o.Prober.Probe(ctx, jobs[0].f, jobs[0].port)
		return
	}
	sem := make(chan struct{}, maxParallelProbes)
	var wg sync.WaitGroup
	for i := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func(j *probeJob) {
			defer func() { <-sem; wg.Done() }()
			j.err = o.Prober.Probe(ctx, j.f, j.port)
		}(&jobs[i])
	}
	wg.Wait()
}

// prune forgets the probe records of forwards no longer in keep.
func (o *Observer) prune(keep map[string]state.Forward) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name := range o.records {
		if _, ok := keep[name]; !ok {
			delete(o.records, name)
		}
	}
}
