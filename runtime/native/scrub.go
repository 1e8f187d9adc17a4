package native

import (
	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// Values from sensitive variables never leave the agent: before it starts
// a forward, the agent adds the forward's sensitive values
// (runtime.Spec.SensitiveValues) to its Scrubber, which every text the
// agent hands out goes through — start errors, each forward's status
// strings and events (scrubbedForward), and, when the caller builds the
// agent's logger over AgentOptions.Scrubber's Writer, every log line. A
// value stays in the Scrubber until the agent exits: shared informers and
// tunnels may still log it after its forward stopped.

// scrubbedForward is a Forward whose status and events show no value its
// Scrubber holds.
type scrubbedForward struct {
	Forward
	s *redact.Scrubber
}

// Status is the forward's status with its texts scrubbed.
func (f scrubbedForward) Status() engine.Status {
	st := f.Forward.Status()
	st.Addr, st.Pod = f.s.Scrub(st.Addr), f.s.Scrub(st.Pod)
	st.HealthError, st.LastError = f.s.Scrub(st.HealthError), f.s.Scrub(st.LastError)
	return st
}

// Events are the forward's events with their texts scrubbed.
func (f scrubbedForward) Events(since int) ([]engine.Event, <-chan struct{}) {
	evs, more := f.Forward.Events(since)
	if f.s.Len() == 0 {
		return evs, more
	}
	out := make([]engine.Event, len(evs))
	for i, ev := range evs {
		ev.Pod, ev.Message = f.s.Scrub(ev.Pod), f.s.Scrub(ev.Message)
		out[i] = ev
	}
	return out, more
}
