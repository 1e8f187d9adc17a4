// Package nativetest holds what the programs under test/ need of a
// workspace's agent and kpf itself does not: the pids of the agent and of
// its supervisor, asked of the agent with protocol 1's hello (its wire is
// in ../testdata/protocol).
// kpf's binary must not import it (TestPackageLayers).
package nativetest
