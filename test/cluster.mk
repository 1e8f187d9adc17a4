# Local Kubernetes control plane for the demo and the end-to-end tests
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok; no
# Docker). Included from the top-level Makefile.
#   make cluster-bin    build or find the binaries (cold: ~8 min on 2 cores, then cached)
#   make cluster-up     start it detached, deploy namespace "demo", print KUBECONFIG
#   make cluster-down   stop the demo's forwards (kpf destroy), then the cluster
# CLUSTER_STATE picks the state directory (default ${TMPDIR:-/tmp}/kpf-testcluster).

TESTCLUSTER   := $(BIN)/testcluster
CLUSTER_STATE ?= $(if $(TMPDIR),$(TMPDIR),/tmp)/kpf-testcluster

.PHONY: cluster-bin cluster-up cluster-down cluster-status $(TESTCLUSTER)

$(TESTCLUSTER):
	$(GO) build -o $(TESTCLUSTER) ./test/cmd/testcluster

cluster-bin: $(TESTCLUSTER) ## build or find the control-plane binaries
	$(TESTCLUSTER) build

cluster-up: $(TESTCLUSTER) ## start the local cluster with the demo namespace
	$(TESTCLUSTER) up --state $(CLUSTER_STATE)

cluster-status: $(TESTCLUSTER) ## is the local cluster running
	$(TESTCLUSTER) status --state $(CLUSTER_STATE)

# The demo's forwards go first: its agent would otherwise keep 18080,
# 18081 and 15432 bound to a cluster that no longer exists. Quiet when
# nothing runs; a failure is shown and the cluster stops all the same.
cluster-down: $(TESTCLUSTER) ## stop the demo's forwards and the local cluster
	@if [ -x $(KPF) ]; then \
		out=$$($(KPF) -C examples/demo destroy 2>&1); \
		[ "$$out" = "No forwards to stop." ] || printf '%s\n' "$$out"; \
	fi
	$(TESTCLUSTER) down --state $(CLUSTER_STATE)
