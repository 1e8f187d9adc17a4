// Package cluster runs a real, local Kubernetes control plane for kpf's
// end-to-end tests and demo: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (playing the kubelet), all on 127.0.0.1, without
// Docker. It also plays the containers: for every pod bound to the kwok node
// it starts a small TCP/HTTP server and a kwok PortForward owned by the pod,
// so a real `kubectl port-forward` reaches a process that answers with the
// pod's name. As a kubelet waits for a readiness probe, a pod turns Ready
// only once its server is up: kwok's pod-ready stage waits for the
// BackedAnnotation the harness sets after creating the PortForward.
//
// It owns: building and caching the control-plane binaries (EnsureBinaries,
// from the separate module in test/tools), the cluster's PKI and kubeconfig,
// the component processes (started in their own process group, always
// reaped), the pod backends, and workload helpers for tests.
//
// kwok (v0.8.0) closes its connection to a pod's server only when the
// tunnel ends, not when one of its streams does (it waits for both copies,
// and the server waits for bytes that never come): every connection made
// through a forward keeps one open between kwok and the server while the
// tunnel lives, through kubectl port-forward as through kpf. A long run of
// connections through one tunnel fills both processes' descriptors: three
// of kpf-soak's floods of 2,000 in a row reach a 20,000 limit.
//
// Linux only: components run in their own process group with a
// parent-death signal, so a crashed test run leaves no control plane behind.
// StateDir, when given, should be empty (a fresh etcd).
//
// It must not import any k8s.io module or client-go: it talks to the API
// server with net/http and encoding/json (admin client certificate) and runs
// kubectl by argv only where YAML is involved. It must not import kpf's own
// packages (spec, runtime, state, reconcile): it is the world kpf runs in,
// not part of kpf.
package cluster
