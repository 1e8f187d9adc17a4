// Command kpf is the command-line interface: it parses flags, loads the spec
// through package spec, asks package reconcile for a plan, renders views,
// and maps results to exit codes. It owns no reconciling logic of its own.
//
// Results go to stdout; logs (hclog, key/value) go to stderr.
//
// Values from sensitive variables: reconcile redacts what the views take
// (reconcile/redact.go: Plan.Redact for a plan, StatusRows for status,
// `status --all` included, the Hook's events); the run's log, its
// final error, the live view's error line and `kpf logs` go through the
// app's scrubber, which holds the sensitive values of every spec and state
// the run read (app.hide).
//
// The live view (package internal/live) is wired in live.go: `apply
// --watch` and `status --watch` on a terminal feed it snapshots built from
// the state file and the runtime (reconcile.StatusRows; no kubectl calls,
// and under apply no probes beyond the watch's), and carry out its keys —
// restart through reconcile.Watcher.Restart, open and log as `kpf open` and
// `kpf logs` do. While it runs nothing else writes to the terminal: the
// watch's events (reconcile.Hook, liveHook) become the view's event lines,
// a broken spec's first diagnostic its footer, and logs go to watch.log in
// the workspace's state folder (discarded under status).
//
// What apply and its watch do reaches every view as reconcile's typed
// events (reconcile.Hook), never as text read back: package
// internal/views renders them as progress lines (Progress, ApplyHuman) and
// as `kpf apply --json`'s stream (JSON, docs/apply-json.md), and turns the
// spec's HCL diagnostics into plain data (FromHCL).
//
// Installed as kubectl-kpf (krew links it so) kpf is a kubectl plugin:
// plugin.go keys on os.Args[0] and renames the root command with cobra's
// display-name annotation, so usage lines and examples say `kubectl kpf`.
//
// `kpf version` reports what the release build stamped with ldflags
// (version, commit, commit date), else what the Go build information holds
// (`go install ...@VERSION`, `go build` in a checkout): version.go. The
// release's completions and man pages come from a build with -tags
// releasedocs (gendocs.go, the hidden __release-docs command), which the
// installed binary does not carry; .goreleaser.yaml runs it.
//
// Outputs (outputs.go): spec keeps the output blocks' expressions and
// evaluates them (spec.Outputs.Eval) against endpoints built here from the
// state file — the address and port each forward actually got — so kpf
// output, kpf env and the env file read files only (no agent, no
// kubeconfig). plan and apply add the output changes their forward changes
// make (reconcile.DiffOutputs over plain values). Sensitive outputs go to
// the scrubber as soon as they are evaluated. apply --wait and kpf run wait
// for forwards to serve in wait.go; kpf run (run.go) keeps a lease per run
// in runs/ of the state folder so that concurrent runs hand forwards over
// instead of stopping them under each other.
//
// Start-up (issue 20 point 11): package internal/prefetch, imported for its
// init, starts parsing the workspace's spec files (spec.Prefetch) while
// the rest of the process initialises, when the command line names a
// command that loads the spec; openSession reads the kubeconfig on another
// goroutine while the spec loads (contextResolver.preload). Neither
// changes what a command shows: spec.Load takes a prefetched parse only
// for the bytes it read itself, and the preloaded kubeconfig only while
// its files are unchanged, its errors shown where they were before.
// A command line that starts with a command's name builds that command
// alone under the root (rootCommandFor; help, __complete and the rest get
// the whole tree), and interrupt handling (interruptContext: a first
// SIGINT or SIGTERM cancels the command's context, a second exits) starts
// in setup for every command but those annotated noInterrupt (`kpf
// version`), since os/signal's receiver starts threads of its own.
//
// It may import every kpf package; no kpf package imports it.
package main
