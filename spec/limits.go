package spec

import (
	"time"

	"github.com/kpf-dev/kpf/internal/specfile"
)

// Limits on hostile input. A real spec stays far below each of them (a
// 1,000-forward kpf.hcl is about 180 KB, nests 4 to 6 levels deep and
// evaluates to a few hundred KB); they exist so that a spec written to
// crash kpf (or saved by accident under apply --watch) is a diagnostic at
// the place that exceeds them, never a stack overflow or an exhausted
// memory.
const (
	// MaxFileSize is the largest spec or variables file kpf reads, in
	// bytes (package specfile reads them).
	MaxFileSize = specfile.MaxFileSize

	// MaxNestingDepth is the deepest nesting a file may have (see
	// specfile.MaxNestingDepth: it is checked on the bytes before HCL
	// parses them).
	MaxNestingDepth = specfile.MaxNestingDepth

	// MaxValueSize bounds one evaluated value: a local, an attribute, a
	// function argument or result. The size counts one per byte of a
	// string and one per element, attribute or number; a value shared
	// twice counts twice (go-cty walks it twice).
	MaxValueSize = 1 << 18

	// MaxEvalWork bounds the evaluation of a whole workspace: the sum of
	// the sizes every function returns and every for expression element
	// and interpolated template part has, plus IterationCost per element a
	// for expression iterates over. Three nested for expressions over
	// range(1024) would need 2^33; a 1,000-forward spec needs a few
	// thousand. At the cap a load takes about a second, not forever.
	MaxEvalWork = 1 << 20

	// IterationCost is what one iteration of a for expression costs of
	// MaxEvalWork: HCL spends about as long on one iteration as on
	// measuring eight elements of a value.
	IterationCost = 8
)

// Minimum durations. Every duration in the spec has one, so that a typo
// such as "1ns" or "5ms" is a diagnostic rather than a watch or an agent
// spinning a core: each value below is short enough for any use a person
// would have for it and long enough that the work it paces stays a small
// fraction of a core.
const (
	// MinProbeCacheTTL: a watch pass probes each forward's port (two
	// dials, 127.0.0.1 and ::1); a cache that lives less than a pass
	// takes saves nothing.
	MinProbeCacheTTL = 100 * time.Millisecond
	// MinCheckInterval: the timer is only a safety net (runtimes report
	// exits at once), and each pass observes every forward.
	MinCheckInterval = 500 * time.Millisecond
	// MinHealthInterval is Kubernetes' own floor for a probe's
	// periodSeconds; each check opens a stream through the tunnel.
	MinHealthInterval = time.Second
	// MinHealthTimeout: below it a check through a busy tunnel fails for
	// no fault of the pod, and the forward flaps.
	MinHealthTimeout = 100 * time.Millisecond
)

// durationMin is the minimum of one duration attribute and why it is there.
type durationMin struct {
	min time.Duration
	why string
}

// minDurations holds the minimum of every duration attribute, by name
// (interval and timeout are the health block's).
var minDurations = map[string]durationMin{
	"probe_cache_ttl": {MinProbeCacheTTL, "a shorter cache saves no probe"},
	"check_interval":  {MinCheckInterval, "forward exits are reported at once; the timer is a safety net"},
	"interval":        {MinHealthInterval, "Kubernetes' own minimum for a probe"},
	"timeout":         {MinHealthTimeout, "a shorter check fails on a busy tunnel"},
}

// minDuration is the minimum of the duration attribute name; a name with
// none needs only to be positive.
func minDuration(name string) durationMin {
	if m, ok := minDurations[name]; ok {
		return m
	}
	return durationMin{min: 1, why: "it must be positive"}
}
