// Package kinds is the one table of the resource kinds a forward may
// target and kubectl's spellings of them, shared by spec's validation and
// the native engine (they disagreed once: the engine took deployment.apps,
// spec refused it), and the one parsed form of a target (Target: spec's
// model.Target, runtime.Spec's and the engine's Config's), so that a
// process parses a target string at most once. It imports nothing of kpf.
package kinds
