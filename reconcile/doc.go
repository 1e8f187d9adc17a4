// Package reconcile compares the forwards a workspace wants with the ones
// running, and makes them match.
//
// It owns the pure diff (Diff, SpecHash, ResolveContexts) that turns desired
// forwards and observed state into a Plan, the plan's views (RenderHuman,
// RenderJSON; the JSON schema is documented in JSON.md), the status view
// (StatusRows, RenderStatusTable, RenderStatusJSON), observing actual state
// (Observer), executing a plan (Applier) and keeping it executed (Watcher).
// Subpackage ports probes and picks local ports. Values from sensitive
// variables never reach a view: the plan and status views redact the
// fields the spec (or the state) marks, and scrub runtime text (last
// error, pod, progress lines) of their values (redact.go).
//
// Diff and the views do no I/O beyond the writer they are given and never
// read the clock. reconcile works on plain Go values from spec, state and
// runtime: it must not import hcl (or anything that parses HCL), cmd, or a
// Kubernetes client.
package reconcile
