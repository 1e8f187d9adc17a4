// Package ports answers whether a local TCP port can be bound, and picks free
// ones.
//
// It owns the probe (a real bind on the address, and on ::1 too for
// 127.0.0.1, because kubectl binds both loopbacks), the TTL cache in front of
// it (Cache, which implements reconcile.PortChecker) and the port resolver
// that gives every forward of a plan a distinct port (Resolver).
//
// It must not import spec, state, runtime, reconcile or anything HCL: it only
// knows addresses and port numbers. It never starts a process and never keeps
// a port bound after a call returns.
package ports
