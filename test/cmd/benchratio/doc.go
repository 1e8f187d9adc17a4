// Command benchratio reads `go test -bench` output (one or several runs,
// concatenated) on stdin and prints, per benchmark, the median of each
// metric over the runs, and for every pair of sub-benchmarks X/kpf and
// X/reference measured in the same input, the ratio of their medians.
//
// It is what `make bench` pipes its runs into: the comparison with the
// reference is only ever made between figures of one invocation on one
// machine. Goals are given as flags (-goal X=4 means "X/kpf at least 4
// times as fast as X/reference"; -limit X/kpf=10ns means "median at most
// 10 ns/op") and are reported, never asserted: the exit status is 0 unless
// the input cannot be read or holds no benchmark.
//
// It is a test tool: it imports nothing from kpf and ships in no binary.
package main
