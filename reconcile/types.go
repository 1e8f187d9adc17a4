package reconcile

import (
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// Action is what a plan does to one forward. Its value is the symbol shown
// in the human view.
type Action string

// Actions.
const (
	NoOp    Action = ""
	Start   Action = "+"
	Stop    Action = "-"
	Replace Action = "-/+"
	Restart Action = "~"
)

// HealthState is the outcome of the last health probe.
type HealthState string

// Health states.
const (
	HealthUnknown   HealthState = "unknown"
	HealthHealthy   HealthState = "healthy"
	HealthUnhealthy HealthState = "unhealthy"
	HealthNone      HealthState = "none" // checks disabled
	// HealthIdle: the runtime leaves the forward unchecked while nobody
	// uses it (its spec has no health block), so no check vouches for it.
	HealthIdle HealthState = "idle"
)

// Observed is the actual state of one forward kpf started: what the state
// file remembers plus what was seen now.
type Observed struct {
	State state.Forward
	// Alive: the process exists and is still the one kpf started.
	Alive bool
	// LastError is the last error line of the forward's log.
	LastError string
	Health    HealthState
	// HealthError says why the last probe failed.
	HealthError string
	// Runtime is what the runtime reported (pod, connections, bytes).
	Runtime runtime.Status
}

// Actual is the observed state of a workspace, keyed by forward name.
type Actual map[string]Observed

// Desired is one enabled forward as it should run: spec values with the
// context resolved (never "") and the namespace defaulted.
type Desired struct {
	model.Forward
}

// PortChecker answers whether a local port can be bound. Diff only calls
// it; implementations cache (ports.Cache).
type PortChecker interface {
	Free(address string, port int) bool
}

// FieldChange is one field's before and after.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
	// ForcesReplace is true when the change needs a new process.
	ForcesReplace bool `json:"forces_replace"`
}

// PortMove says a forward does not get the port it asked for, and why.
type PortMove struct {
	Wanted int    `json:"wanted"`
	Got    int    `json:"got"`
	Reason string `json:"reason"`
}

// Change is the plan for one forward.
type Change struct {
	Name   string        `json:"name"`
	Action Action        `json:"action"`
	Reason string        `json:"reason,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"`
	// Port is the local port the forward will use (after resolution).
	Port     int       `json:"local_port"`
	PortMove *PortMove `json:"port_move,omitempty"`
	// Desired is nil for Stop.
	Desired *model.Forward `json:"-"`
	// Prior is nil for Start.
	Prior *state.Forward `json:"-"`
}

// JSONFormatVersion is the version of the plan and status JSON schemas (see
// JSON.md). A change that can break a consumer bumps the major number.
//
// It lives here, not with the renderers (cmd/kpf/internal/views), because
// part of the schema is this package's data: the JSON tags of FieldChange,
// PortMove, ForwardError and Summary, which the views encode as they are.
const JSONFormatVersion = "1.1"

// Plan is plain data: one change per forward, sorted by name.
type Plan struct {
	Workspace string   `json:"workspace"`
	Changes   []Change `json:"changes"`
	// Errors are the forwards that could not be planned (see Fail), sorted
	// by name.
	Errors []ForwardError `json:"errors"`
	// Outputs are the changes of output values the forwards' changes
	// make, computed by the caller (DiffOutputs); nil when none.
	Outputs []OutputChange `json:"-"`
	// Created is when the plan was computed.
	Created time.Time `json:"-"`
}

// ForwardError is a forward of the spec that cannot be planned, and why
// (its context is not in the kubeconfig): the plan leaves it as it is.
type ForwardError struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}
