// Package ports answers whether a local TCP port can be bound, and picks free
// ones.
//
// It owns the probe (Probe: a bind on the address, and on ::1 too for
// 127.0.0.1, because kubectl binds both loopbacks; on Linux and macOS a bare
// socket bound and closed, which gives a listener's answer with a third of
// its system calls, elsewhere a listener), the TTL cache in front of it
// (Cache, which implements reconcile.PortChecker; a hit reads a shared
// coarse clock that runs only while it is read) and the port resolver that
// gives every forward of a plan a distinct port (Resolver). A batch about to
// probe many ports through a Cache probes them on several goroutines first
// (Resolver.probeAhead), then resolves in turn from the cache's answers.
//
// The reproductions of the reference's (kportforward's) algorithms that the
// benchmarks compare with are in reference_test.go: test code, never in the
// binary.
//
// It must not import spec, state, runtime, reconcile or anything HCL: it only
// knows addresses and port numbers. It never starts a process and never keeps
// a port bound after a call returns.
package ports
