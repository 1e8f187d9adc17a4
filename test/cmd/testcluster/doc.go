//go:build linux

// Command testcluster builds, starts and stops kpf's local Kubernetes control
// plane (see package test/cluster) for the demo and for manual testing.
//
//	testcluster build                 build or find the control-plane binaries
//	testcluster up [--state DIR]      start a detached supervisor, deploy namespace demo
//	testcluster status [--state DIR]  is it running (exit 1 if not); nodes and demo pods
//	testcluster down [--state DIR]    stop the supervisor and the cluster
//
// The state directory defaults to ${TMPDIR:-/tmp}/kpf-testcluster.
//
// It imports only test/cluster; nothing imports it.
package main
