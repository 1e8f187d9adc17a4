// Package live is the terminal view of `kpf apply --watch` and
// `kpf status --watch`: a table of a workspace's forwards that the caller
// keeps up to date, with keys to filter, restart, open and follow a
// forward's log.
//
// # What it owns
//
// The rendering of a workspace's forwards as a live table (bubbletea v2,
// bubbles' table, viewport, help and key bindings, lipgloss styles; colour
// downgraded by the terminal's profile), the per-forward traffic history
// behind the sparkline, and the key handling. The filter's one-line input is
// its own (input.go), not bubbles' textinput, which would link a clipboard
// package whose init every kpf command pays (issue 20, point 11).
//
// # Data contract
//
// The view is a consumer, never a second source of truth. The caller feeds
// it plain values as messages (Program.Send, or Model.Update in tests):
//
//   - Snapshot: the whole workspace at one moment (At). Each Snapshot
//     replaces the previous one; rows keep the caller's order. The view
//     holds on to Rows until the next snapshot: build a new slice each time. Byte counters
//     are cumulative; the view turns successive snapshots into bytes/s over
//     the last minute for the TRAFFIC sparkline. A counter that goes down
//     (a restarted forward) counts from zero again.
//   - Event: something that happened to one forward (a restart, a pod
//     switch, an error), shown on the notice line.
//
// Row fields that a runtime does not report carry their "unknown" value and
// render as "-": Pod "", Active/Total/BytesIn/BytesOut -1. With the kubectl
// runtime that is pod, connections and traffic. State is one of the State*
// constants (another value is shown as it is); Health a reconcile health
// ("healthy", "unhealthy", "failing", "unknown", "none") or "" / "-".
//
// Everything the view does to the world goes through Actions (restart,
// open, log), called from bubbletea commands off the UI goroutine with the
// context given to New; a nil Actions, or Options.ReadOnly, disables keys.
// The view never calls kubectl, never probes a port, never reads state files
// and never calls time.Now for what it renders: times come from snapshots, so
// a frame is a pure function of the messages fed in.
//
// # Running it
//
// NewProgram builds the bubbletea program on the caller's terminal (alt
// screen, raw input, resizes followed) with the colour profile
// Terminal.Profile chooses (NO_COLOR and --no-color); p.Send feeds snapshots
// and events from any goroutine; Run(ctx, p) returns nil when the user
// presses q (or Ctrl-C, a key in raw mode) or ctx is cancelled, with the
// terminal restored. Quitting the view never stops forwards. While it runs
// nothing else may write to the terminal (progress lines, logs on stderr):
// send them as Events. livedemo is a runnable example.
//
// # What it must not import
//
// No kpf package (spec, reconcile, runtime, state), even transitively: the
// caller maps its own types to Row. Its own files import neither os/exec nor
// net. cmd/kpf imports it; it imports only the standard library and the
// Charm stack (TestImports checks both).
package live
