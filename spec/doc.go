// Package spec turns a kpf workspace directory into plain Go values.
//
// It owns the spec language: finding the files of a workspace (kpf.hcl,
// *.kpf.hcl, then *.override.kpf.hcl), decoding them against package-level
// schemas, merging overrides attribute by attribute, evaluating variables,
// locals and functions, applying defaults and validating everything that can
// be checked without a cluster. Problems are hcl.Diagnostics with precise
// source ranges; a Loader keeps every file it read so diagnostics can be
// rendered with the source snippet. It also formats spec files (kpf fmt:
// hclwrite.Format's layout on hclsyntax's tokens, layout.go) and writes the
// starter spec (kpf init). It does not import hclwrite outside tests: that
// would link go-cmp, whose init every command would pay (issue 20, point 11);
// the tests hold the formatter to hclwrite.
//
// Output blocks are the exception to "everything is evaluated at load":
// their values depend on the ports forwards actually got, so Loader.Outputs
// keeps their expressions (checked at load with every forward attribute
// unknown: undeclared forwards, attributes and outputs, cycles and type
// errors are diagnostics) for the caller to evaluate against what runs
// (Outputs.Eval with plain model.Endpoint values; output.go).
//
// Hostile specs are diagnostics, never crashes: spec files are read only
// from inside the workspace, only if regular and at most MaxFileSize bytes;
// their nesting is checked on the bytes (MaxNestingDepth) before HCL parses
// them recursively; evaluation is bounded per value (MaxValueSize) and per
// load (MaxEvalWork); every duration has a minimum (MinCheckInterval, …)
// so that a typo cannot make a watch or the agent spin. See limits.go and
// budget.go. Values of variables
// declared sensitive = true, and values from --var and KPF_VAR_name, are
// never shown in diagnostics; Forward.Sensitive names the fields that came
// from sensitive values, for views to redact (sensitive.go).
//
// Prefetch gives a short-lived command a head start: it reads and parses
// a workspace's files on another goroutine (kpf starts it from a package
// init, while the rest of the process initialises), and the next Load takes
// each parse whose file it then reads with the same bytes; a file that
// differs is parsed again (prefetch.go). It is not a cache: nothing parsed
// outlives the process, or serves a second Load.
//
// spec never runs a process, never talks to a cluster and never imports
// runtime, state, reconcile or cmd: its output, Workspace, is plain data.
package spec
