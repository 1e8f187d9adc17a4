// Package model holds the plain values a loaded spec is made of: a
// Workspace, its Settings and its Forwards with their Target and Health.
//
// spec produces these values from HCL; reconcile, the views and the
// runtimes consume them. model is a leaf: it must not import hcl, cty,
// spec or any other kpf package but internal/kinds (itself a leaf: Target
// is its type, shared with the runtimes), so that nothing downstream of
// spec ever reaches HCL, not even transitively.
package model
