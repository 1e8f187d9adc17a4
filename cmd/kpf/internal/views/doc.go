// Package views renders what `kpf apply` (and its watch) does, from the
// structured events reconcile reports through reconcile.Hook: the human
// progress lines (Progress), the text the live view shows of an event
// (Text) and `kpf apply --json`'s stream of one JSON object per event
// (JSON, schema in docs/apply-json.md). It also turns the spec's HCL
// diagnostics into reconcile's plain Diagnostic values (FromHCL), so that
// views never read rendered diagnostics back.
//
// It also holds the plan and status views, each one interface with a
// human and a JSON implementation that a command picks once (--json):
// Plan (NewPlan: `kpf plan`, and the plan of `kpf apply` through
// ApplyHuman.Plan and JSON.PlanReady; planhuman.go renders it in
// Terraform's shape, planjson.go in the schema of reconcile/JSON.md, whose
// goldens are testdata/plan_*) and Status (NewStatus: `kpf status`, its
// --stats and --all; StatusLine is the one JSON shape of a status row).
//
// Redaction happens once, in reconcile (reconcile/redact.go), before any
// data reaches this package: the views take only what comes out of that
// step — a reconcile.RedactedPlan (made by Plan.Redact; the Plan and
// Apply views and the PlanReady event take no reconcile.Plan), status rows
// (made by reconcile.StatusRows, which redacts them), and events whose
// texts the Applier and Watcher scrubbed. No view takes a model.Forward
// or a state.Forward; one that did would skip the step.
//
// The events carry text already scrubbed of sensitive values (reconcile
// does it where it has them); the human views escape that text for the
// terminal, the JSON view encodes it.
//
// views may import reconcile, spec, hcl and the live view; reconcile, spec,
// runtime and state must never import it.
package views
