//go:build !darwin

package main

// loopbackAliases does nothing: Linux and Windows route all of
// 127.0.0.0/8 on the loopback interface.
func loopbackAliases([]string) error { return nil }
