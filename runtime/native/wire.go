package native

import (
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// The wire types of protocol 1. The protocol does not send the types of
// the runtime or the engine as they are: a field renamed there would
// change what agents and CLIs of other builds read. These types are the
// protocol's own (their JSON keys are protocol 1's: the first ones were
// the Go field names of runtime.Spec and kubeconfig.Source), and the
// functions below are the one place that maps them from and to the
// runtime's and the engine's — among them a target, a string (TYPE/NAME)
// on the wire and a parsed kinds.Target on either side (forwardToWire,
// wireForward.spec). testdata/protocol holds them as golden JSON.

// wireForward is a forward to start (runtime.Spec on the wire).
type wireForward struct {
	Name           string            `json:"Name"`
	Runtime        string            `json:"Runtime"`
	Target         string            `json:"Target"`
	Selector       map[string]string `json:"Selector"`
	Context        string            `json:"Context"`
	Namespace      string            `json:"Namespace"`
	Address        string            `json:"Address"`
	LocalPort      int               `json:"LocalPort"`
	RemotePort     string            `json:"RemotePort"`
	Kubeconfig     string            `json:"Kubeconfig"`
	Health         wireHealth        `json:"Health"`
	ReadyTimeout   time.Duration     `json:"ReadyTimeout"` // nanoseconds
	MaxConnections int               `json:"MaxConnections,omitempty"`
	Sensitive      []string          `json:"Sensitive,omitempty"`
}

// wireHealth is a forward's health check (runtime.Health on the wire).
type wireHealth struct {
	Kind             string        `json:"Kind"`
	HTTPPath         string        `json:"HTTPPath"`
	Interval         time.Duration `json:"Interval"` // nanoseconds
	Timeout          time.Duration `json:"Timeout"`  // nanoseconds
	FailureThreshold int           `json:"FailureThreshold"`
	WhileIdle        bool          `json:"WhileIdle"`
}

// wireKubeconfig is where the agent reads the kubeconfig from
// (kubeconfig.Source on the wire).
type wireKubeconfig struct {
	Explicit string `json:"Explicit"`
	Env      string `json:"Env"`
	Home     string `json:"Home"`
}

// wireStatus is a forward's state (engine.Status on the wire).
type wireStatus struct {
	Listening   bool      `json:"listening"`
	Addr        string    `json:"addr"`
	Pod         string    `json:"pod,omitempty"`
	Active      int64     `json:"active"`
	Total       int64     `json:"total"`
	BytesIn     int64     `json:"bytes_in"`
	BytesOut    int64     `json:"bytes_out"`
	Reconnects  int64     `json:"reconnects"`
	Refused     int64     `json:"refused,omitempty"`
	Stalled     int64     `json:"stalled,omitempty"`
	Health      string    `json:"health"`
	HealthError string    `json:"health_error,omitempty"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Since       time.Time `json:"since"`
	Restarts    int       `json:"restarts,omitempty"`
}

// wireEvent is one entry of a forward's log (engine.Event on the wire).
type wireEvent struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Pod      string    `json:"pod,omitempty"`
	Message  string    `json:"message,omitempty"`
	BytesIn  int64     `json:"bytes_in,omitempty"`
	BytesOut int64     `json:"bytes_out,omitempty"`
}

func forwardToWire(s runtime.Spec) *wireForward {
	h := s.Health
	return &wireForward{
		Name: s.Name, Runtime: s.Runtime, Target: s.Target.String(), Selector: s.Selector, Context: s.Context,
		Namespace: s.Namespace, Address: s.Address, LocalPort: s.LocalPort, RemotePort: s.RemotePort,
		Kubeconfig: s.Kubeconfig,
		Health: wireHealth{Kind: h.Kind, HTTPPath: h.HTTPPath, Interval: h.Interval, Timeout: h.Timeout,
			FailureThreshold: h.FailureThreshold, WhileIdle: h.WhileIdle},
		ReadyTimeout: s.ReadyTimeout, MaxConnections: s.MaxConnections, Sensitive: s.Sensitive,
	}
}

// spec is the forward as the runtime takes it: the one place a target's
// string (TYPE/NAME, protocol 1) is parsed on the agent's side. A target
// that does not parse leaves the spec's Target zero and is a permanent
// error (it names the target: the caller scrubs it).
func (w *wireForward) spec() (runtime.Spec, error) {
	target, err := kinds.ParseTarget(w.Target)
	if err != nil {
		err = runtime.Permanent(err)
	}
	h := w.Health
	return runtime.Spec{
		Name: w.Name, Runtime: w.Runtime, Target: target, Selector: w.Selector, Context: w.Context,
		Namespace: w.Namespace, Address: w.Address, LocalPort: w.LocalPort, RemotePort: w.RemotePort,
		Kubeconfig: w.Kubeconfig,
		Health: runtime.Health{Kind: h.Kind, HTTPPath: h.HTTPPath, Interval: h.Interval, Timeout: h.Timeout,
			FailureThreshold: h.FailureThreshold, WhileIdle: h.WhileIdle},
		ReadyTimeout: w.ReadyTimeout, MaxConnections: w.MaxConnections, Sensitive: w.Sensitive,
	}, err
}

func kubeconfigToWire(src kubeconfig.Source) *wireKubeconfig {
	return &wireKubeconfig{Explicit: src.Explicit, Env: src.Env, Home: src.Home}
}

func (w *wireKubeconfig) source() kubeconfig.Source {
	return kubeconfig.Source{Explicit: w.Explicit, Env: w.Env, Home: w.Home}
}

func statusToWire(s engine.Status) wireStatus {
	return wireStatus{
		Listening: s.Listening, Addr: s.Addr, Pod: s.Pod, Active: s.Active, Total: s.Total,
		BytesIn: s.BytesIn, BytesOut: s.BytesOut, Reconnects: s.Reconnects, Refused: s.Refused, Stalled: s.Stalled,
		Health: s.Health, HealthError: s.HealthError, LastCheck: s.LastCheck, LastError: s.LastError,
		Since: s.Since, Restarts: s.Restarts,
	}
}

func (w wireStatus) engine() engine.Status {
	return engine.Status{
		Listening: w.Listening, Addr: w.Addr, Pod: w.Pod, Active: w.Active, Total: w.Total,
		BytesIn: w.BytesIn, BytesOut: w.BytesOut, Reconnects: w.Reconnects, Refused: w.Refused, Stalled: w.Stalled,
		Health: w.Health, HealthError: w.HealthError, LastCheck: w.LastCheck, LastError: w.LastError,
		Since: w.Since, Restarts: w.Restarts,
	}
}

// statusResponse answers a status request.
func statusResponse(statuses map[string]engine.Status) response {
	out := make(map[string]wireStatus, len(statuses))
	for id, s := range statuses {
		out[id] = statusToWire(s)
	}
	return response{Statuses: out}
}

func eventToWire(ev engine.Event) *wireEvent {
	return &wireEvent{Seq: ev.Seq, Time: ev.Time, Kind: string(ev.Kind), Pod: ev.Pod, Message: ev.Message,
		BytesIn: ev.BytesIn, BytesOut: ev.BytesOut}
}

func (w *wireEvent) engine() engine.Event {
	return engine.Event{Seq: w.Seq, Time: w.Time, Kind: engine.EventKind(w.Kind), Pod: w.Pod, Message: w.Message,
		BytesIn: w.BytesIn, BytesOut: w.BytesOut}
}
