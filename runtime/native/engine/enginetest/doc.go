// Package enginetest holds what tests and the test programs under test/
// need of the engine and production code does not: loading a kubeconfig
// the way kubectl does, straight into engine.Clients (kpf itself builds
// clients through the runtime from a workspace's resolved contexts).
// kpf's binary must not import it (TestPackageLayers).
package enginetest
