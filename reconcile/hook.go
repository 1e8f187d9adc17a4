package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// Hook is told what an apply and a watch do, as it happens, in structured
// values: the views (progress lines, the live view, `kpf apply --json`)
// render them, and nothing parses rendered text back. As Terraform's
// hooks and views, one method per kind of event.
//
// Methods may be called from several goroutines at once (an apply acts on
// forwards in parallel) and must not block for long. Text fields (errors)
// are already scrubbed of the values of sensitive variables, and plans
// redacted (redact.go); they are not escaped for a terminal: a view that
// prints them does.
type Hook interface {
	// PlanReady: the changes an apply (or a watch's pass) is about to make.
	PlanReady(PlanReady)
	// ActionStarted: one change begins.
	ActionStarted(ActionStarted)
	// ActionRetried: an attempt of a change failed; it is tried again.
	ActionRetried(ActionRetried)
	ActionSucceeded(ActionSucceeded)
	ActionFailed(ActionFailed)
	// ClusterUnreachable: the changes of a kube context whose cluster does
	// not answer are not applied (each also ends in ActionFailed).
	ClusterUnreachable(ClusterUnreachable)
	// ForwardExited: a watch saw a forward that was alive no longer alive.
	ForwardExited(ForwardExited)
	// HealthChanged: a watch saw a forward's health verdict change.
	HealthChanged(HealthChanged)
	// SpecReloaded: a watch loaded a spec that differs from the last one,
	// or that loads again after it did not.
	SpecReloaded(SpecReloaded)
	// SpecBroken: a watch could not load the spec (or plan some of its
	// forwards); what runs is left as it is. Told once per distinct error.
	SpecBroken(SpecBroken)
}

// PlanReady is the plan an apply carries out, redacted as every view of a
// plan takes it. In a watch, Plan holds only the changes the pass acts on.
type PlanReady struct {
	At   time.Time
	Plan RedactedPlan
}

// ActionStarted is one change beginning.
type ActionStarted struct {
	At      time.Time
	Forward string
	Action  Action
	// Reason is the plan's reason for the change.
	Reason string
}

// ActionRetried is a failed attempt that is tried again after RetryIn.
type ActionRetried struct {
	At      time.Time
	Forward string
	Action  Action
	// Attempt counts the attempts so far (1 after the first failed).
	Attempt int
	Error   string
	RetryIn time.Duration
}

// ActionSucceeded is one change done.
type ActionSucceeded struct {
	At      time.Time
	Forward string
	Action  Action
	// Address and Port are where the forward serves (Port: the port it
	// stopped serving on, for a Stop).
	Address string
	Port    int
	// MovedFrom is the port first tried when it was in use (0: not moved).
	MovedFrom int
	Attempts  int
	// Reason is the plan's reason for a restart or a replacement.
	Reason string
	// NeverRan: a Stop of a forward that had never started (its record
	// was removed; nothing was stopped).
	NeverRan bool
}

// ActionFailed is one change given up.
type ActionFailed struct {
	At       time.Time
	Forward  string
	Action   Action
	Attempts int
	Error    string
	// Permanent: retrying cannot fix it (e.g. an RBAC denial).
	Permanent bool
	// NotReached: the change was not tried because its cluster does not
	// answer (told by ClusterUnreachable first).
	NotReached bool
}

// ClusterUnreachable names the forwards whose changes are not applied
// because the cluster of Context does not answer.
type ClusterUnreachable struct {
	At       time.Time
	Context  string
	Forwards []string // sorted by the order of the plan
	Error    string
}

// ForwardExited is a forward found no longer alive by a watch's pass.
type ForwardExited struct {
	At      time.Time
	Forward string
	// Error is the last error of its log (may be empty).
	Error string
}

// HealthChanged is a forward's health verdict changing between passes.
type HealthChanged struct {
	At       time.Time
	Forward  string
	From, To HealthState
	// Error says why a probe failed (To unhealthy).
	Error string
}

// SpecReloaded is a new spec in force.
type SpecReloaded struct {
	At time.Time
	// Forwards counts the forwards of the spec (disabled ones included).
	Forwards int
	// Recovered: the spec did not load (or plan) before this one.
	Recovered bool
}

// SpecBroken is a spec that does not load.
type SpecBroken struct {
	At time.Time
	// Diagnostics are the spec's errors and warnings when the spec itself
	// is at fault (a *SpecError); empty for other load errors.
	Diagnostics []Diagnostic
	// Error is the load error in one line.
	Error string
	// Unplannable names the forwards left as they are while the rest of
	// the spec is applied (an *UnplannableError); empty otherwise.
	Unplannable []string
}

// Severity of a Diagnostic.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic is one problem of a spec as plain data (reconcile does not
// know HCL: cmd converts the spec's diagnostics).
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	// Range is where in the spec files; nil when the problem has no place
	// (e.g. a variable given on the command line).
	Range *SourceRange
}

// SourceRange is a span of a spec file.
type SourceRange struct {
	Filename   string
	Start, End SourcePos
}

// SourcePos is a position in a file: 1-based line and column, 0-based byte.
type SourcePos struct {
	Line, Column, Byte int
}

// String is "file:line:col: severity: summary", the plain form.
func (d Diagnostic) String() string {
	if d.Range == nil {
		return fmt.Sprintf("%s: %s", d.Severity, d.Summary)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column, d.Severity, d.Summary)
}

// SpecError is the error of a Watcher's Load when the spec has errors:
// nothing changes until it loads again.
type SpecError struct {
	Diagnostics []Diagnostic
}

// Error does not repeat the diagnostics: the views show them.
func (e *SpecError) Error() string {
	return "the spec has errors; running forwards are left as they are"
}

// key tells one set of diagnostics from another.
func (e *SpecError) key() string {
	var b strings.Builder
	b.WriteString(e.Error())
	for _, d := range e.Diagnostics {
		b.WriteString("\n")
		b.WriteString(d.String())
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// NoHook does nothing; embed it to implement only some of Hook.
type NoHook struct{}

var _ Hook = NoHook{}

func (NoHook) PlanReady(PlanReady)                   {}
func (NoHook) ActionStarted(ActionStarted)           {}
func (NoHook) ActionRetried(ActionRetried)           {}
func (NoHook) ActionSucceeded(ActionSucceeded)       {}
func (NoHook) ActionFailed(ActionFailed)             {}
func (NoHook) ClusterUnreachable(ClusterUnreachable) {}
func (NoHook) ForwardExited(ForwardExited)           {}
func (NoHook) HealthChanged(HealthChanged)           {}
func (NoHook) SpecReloaded(SpecReloaded)             {}
func (NoHook) SpecBroken(SpecBroken)                 {}
