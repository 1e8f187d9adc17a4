// Package redact keeps values from sensitive variables out of text: a
// Scrubber replaces every value it holds by Placeholder, in strings and in
// what is written through its Writer; Values derives the values to hold
// from a forward's fields and the names of those that were sensitive.
//
// It is shared by the runtimes (the agent scrubs its forwards' events,
// errors and log), reconcile and the CLI's views, so that one placeholder
// is used everywhere. Over-redaction is acceptable, a leak is not: a
// Scrubber also replaces a value where it occurs by chance.
//
// redact must not import any kpf package.
package redact
