// Package kubeconfig reads kubeconfig files in-process, the way kubectl
// does (client-go's clientcmd): --kubeconfig, else every file of
// $KUBECONFIG merged in order, else ~/.kube/config. It answers what kpf
// asks of a kubeconfig at plan time (the current context, every context's
// namespace) without running any process, and builds the REST config of a
// context for the native runtime (exec credential plugins included).
//
// It must not import spec, reconcile, state or cmd.
package kubeconfig
