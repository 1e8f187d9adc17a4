// Package reconcile compares the forwards a workspace wants with the ones
// running, and makes them match.
//
// It owns the pure diff (Diff, SpecHash, ResolveContexts) that turns desired
// forwards and observed state into a Plan (plain data: this package renders
// no plan; cmd/kpf/internal/views.Plan does, in the JSON schema of JSON.md,
// whose version, JSONFormatVersion, stays here with the data it versions),
// the status rows (StatusRows: data, redacted; cmd/kpf/internal/views.Status
// renders them), observing actual state
// (Observer), executing a plan (Applier) and keeping it executed (Watcher).
// The Applier and the Watcher report what they do through a Hook, as typed
// events (hook.go: an action started, retried, succeeded or failed, a
// forward exited, health changed, the spec reloaded or broken with its
// diagnostics as plain Diagnostic values); the views that render them live
// in cmd/kpf/internal/views, and no view parses text back.
// Subpackage ports probes and picks local ports. Values from sensitive
// variables never reach a view: redact.go is the one step between this
// package's data and the views, one maker per kind of data they take
// (Plan.Redact → RedactedPlan, StatusRows, the Hook's scrubbed events),
// replacing the fields the spec (or the state) marks and scrubbing
// runtime text (last error, pod, reasons) of their values.
//
// Diff does no I/O and never reads the clock. reconcile works on plain Go values from spec, state and
// runtime: it must not import hcl (or anything that parses HCL), cmd, or a
// Kubernetes client.
package reconcile
