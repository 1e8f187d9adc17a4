// Package specfile finds, reads and parses a kpf workspace's spec files
// under the limits package spec sets for hostile input: the workspace's
// file names (WorkspaceFiles), reading a file only if regular, inside the
// workspace and at most MaxFileSize bytes (Read, ReadLimited), and the
// nesting check that runs on the bytes before HCL parses them recursively
// (CheckNesting, MaxNestingDepth). It also runs the prefetch of a
// short-lived command's spec (Prefetch), whose parses spec.Load takes.
//
// It is apart from package spec for the prefetch: Go initialises packages
// in the order of their import paths as soon as their imports are, and
// spec imports net/netip, which comes about twenty packages later than
// HCL's parser. cmd/kpf's prefetch starts from an init that imports only
// this package, so the parse starts that much earlier while the rest of
// the process initialises (issue 20 point 11).
//
// It imports HCL and the standard library only (never net or net/netip),
// and no kpf package; spec owns the language, this package only the files.
// Its tests are spec's (hostile_test.go, prefetch_test.go, load_test.go):
// they hold it to what Load reports.
package specfile
