// Package testutil holds the helpers kpf's tests share besides testwait's
// polling: golden files (Golden, rewritten by `go test -update`), a free
// loopback port (FreePort) and a buffer a process or goroutine writes while
// the test reads it (SyncBuffer).
//
// It is for tests only: nothing kpf ships imports it (TestPackageLayers),
// and its init registers the -update flag of the test binaries that
// import it. It imports only the standard library, and must not import
// anything of kpf.
package testutil
