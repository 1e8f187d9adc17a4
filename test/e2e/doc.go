// Package e2e holds kpf's end-to-end tests. They run against a real local
// Kubernetes control plane (package test/cluster: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok on 127.0.0.1), started
// once per `go test` run by TestMain, and a real kubectl.
//
// The package is skipped, with a message, when the control-plane binaries
// cannot be built or kubectl is missing — unless KPF_E2E_REQUIRED=1 (CI),
// which turns that into a failure. -short skips it too.
//
// Each test gets its own namespace with the demo workloads (newNamespace);
// shared helpers live in helpers_test.go; kpf's own tests go in
// kpf_*_test.go files. Tests import no k8s.io module or client-go
// themselves; engine_test.go runs kpf's native engine in-process, which
// brings client-go in through kpf's own package.
package e2e
