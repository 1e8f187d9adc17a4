// Package kubectl implements runtime.Runtime with detached `kubectl
// port-forward` processes: argv only (never a shell), --context, --namespace
// and --address always passed, output appended to a per-forward log file,
// readiness from kubectl's "Forwarding from" line, each process in its own
// session so it outlives kpf. It also classifies kubectl's error messages
// (permanent, port in use, retryable) and answers which contexts a
// kubeconfig has.
//
// kubectl imports runtime and runtime/proc only. It must not import spec,
// state, reconcile or hcl.
package kubectl
