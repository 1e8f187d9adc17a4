// Package testwait is the one poll-until-true helper of kpf's tests:
// tests in every package wait for a goroutine, a process or a server to
// reach a state the same way, with a deadline that turns a hang into a
// failure.
//
// It is for tests only (nothing kpf ships imports it), imports only the
// standard library, and must not import anything of kpf.
package testwait
