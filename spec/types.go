package spec

import "github.com/kpf-dev/kpf/spec/model"

// The plain values a load produces live in spec/model, so that packages
// downstream of spec (reconcile, the views, the runtimes) never import HCL.
// These aliases keep spec's own code and its callers short.
type (
	Workspace  = model.Workspace
	Settings   = model.Settings
	Forward    = model.Forward
	Target     = model.Target
	HealthKind = model.HealthKind
	Health     = model.Health
	Pos        = model.Pos
)

// Defaults and health kinds, re-exported from model.
const (
	DefaultProbeCacheTTL = model.DefaultProbeCacheTTL
	DefaultCheckInterval = model.DefaultCheckInterval
	DefaultMaxParallel   = model.DefaultMaxParallel
	DefaultAddress       = model.DefaultAddress
	DefaultClusterDomain = model.DefaultClusterDomain

	HealthTCP  = model.HealthTCP
	HealthHTTP = model.HealthHTTP
	HealthNone = model.HealthNone
)
