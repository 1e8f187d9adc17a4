# kpf — make targets. `make demo` and `make test` are the two a newcomer runs.
SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS    := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN        := bin
KPF        := $(BIN)/kpf
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $$($(GO) env GOPATH)/bin/staticcheck)

.PHONY: all build test test-race test-unit lint cross bench scale demo clean

all: build

build: ## build bin/kpf
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(KPF) ./cmd/kpf

# The README's test command. Runs the unit tests and the end-to-end tests on
# the local control plane (built on first use: ~8 minutes on 2 cores, then cached).
test:
	$(GO) test -count=1 -timeout 45m ./...

test-race: ## the unit tests under the race detector, and the e2e suite against a race-detector kpf
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/e2e)
	KPF_E2E_RACE=1 $(GO) test -count=1 -timeout 45m ./test/e2e

test-unit: ## fast tests only: everything but the end-to-end suite
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/)

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l . test/tools); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

cross: ## the platforms users run: build for macOS and Windows too
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=amd64 $(GO) build ./...
	GOOS=windows GOARCH=amd64 $(GO) build ./...

bench: ## micro-benchmarks (see docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem ./spec/... ./reconcile/...

scale: build ## both runtimes side by side on the local control plane (SCALE_FLAGS=--runtimes=native to pick; see docs/performance.md)
	$(GO) run ./test/cmd/kpf-scale --kpf $(KPF) $(SCALE_FLAGS)

include test/cluster.mk

# The README's first command: kpf on a real local control plane.
demo: build $(TESTCLUSTER) cluster-bin
	KPF=$(KPF) TESTCLUSTER=$(TESTCLUSTER) CLUSTER_STATE=$(CLUSTER_STATE) test/demo.sh

clean:
	rm -rf $(BIN)
