# kpf — make targets. `make demo` and `make test` are the two a newcomer runs.
SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE       ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
LDFLAGS    := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
BIN        := bin
KPF        := $(BIN)/kpf
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $$($(GO) env GOPATH)/bin/staticcheck)

.PHONY: all build test test-race test-unit golden lint cross release-check release-snapshot fuzz fuzz-format bench startup scale dataplane soak soak-short demo clean

all: build

# No cgo, as the release (.goreleaser.yaml) and the e2e tests build it: a
# cgo build is dynamically linked, and the loader and libc's start cost
# every command ~5 ms of CPU (make startup; issue 20, point 11).
build: ## build bin/kpf
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(KPF) ./cmd/kpf

# The README's test command. Runs the unit tests and the end-to-end tests on
# the local control plane (built on first use: ~8 minutes on 2 cores, then cached).
test:
	$(GO) test -count=1 -timeout 45m ./...

test-race: ## the unit tests under the race detector, and the e2e suite against a race-detector kpf
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/e2e)
	KPF_E2E_RACE=1 $(GO) test -count=1 -timeout 45m ./test/e2e

test-unit: ## fast tests only: everything but the end-to-end suite
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/)

# The packages whose tests compare with golden files (testutil.Golden;
# internal/testutil's -update flag rewrites them).
golden: ## rewrite the golden files under testdata/ (review the diff after)
	$(GO) test -count=1 $$(grep -rl --include='*_test.go' 'testutil\.Golden(' . | xargs -n1 dirname | sort -u) -update

lint: ## gofmt, go vet, staticcheck, go mod tidy -diff
	@out=$$(gofmt -l . test/tools); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags releasedocs ./cmd/kpf
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags releasedocs ./cmd/kpf
	$(GO) mod tidy -diff

# -trimpath as the release build (.goreleaser.yaml) has it: release-check
# then finds these packages compiled in the Go build cache.
cross: ## the platforms users run: build, vet and compile the tests for macOS and Windows
	GOOS=darwin GOARCH=arm64 $(GO) build -trimpath ./...
	GOOS=darwin GOARCH=amd64 $(GO) build -trimpath ./...
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	d=$$(mktemp -d) && GOOS=darwin GOARCH=arm64 $(GO) test -c -o $$d $$($(GO) list ./... | grep -v /test/) && rm -rf $$d
	d=$$(mktemp -d) && GOOS=windows GOARCH=amd64 $(GO) test -c -o $$d $$($(GO) list ./... | grep -v /test/) && rm -rf $$d

# GoReleaser, pinned as a Go tool in a module of its own (tools/goreleaser;
# never in kpf's go.mod): built on first use (minutes), then kept in bin/.
GORELEASER := $(BIN)/goreleaser
# GoReleaser reads the repository's URL from git and, without one (a clone
# with no remote), drops the commit and its date from a snapshot: give it one.
GORELEASER_GIT := GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/kpf-dev/kpf.git

$(GORELEASER): tools/goreleaser/go.mod tools/goreleaser/go.sum
	$(GO) build -C tools/goreleaser -o $(CURDIR)/$(GORELEASER) github.com/goreleaser/goreleaser/v2

release-snapshot: $(GORELEASER) ## a snapshot release into dist/: archives, checksums, deb/rpm, cask, scoop, winget, krew (nothing published)
	$(GORELEASER_GIT) $(GORELEASER) release --snapshot --clean --skip=publish

release-check: $(GORELEASER) ## goreleaser check, a snapshot release, and checks of every artefact (installs the .deb when root, then removes it)
	$(GO) test -count=1 -tags releasedocs -run '^TestReleaseDocs$$' ./cmd/kpf
	$(GORELEASER_GIT) GORELEASER=$(GORELEASER) test/release-check.sh

# make fuzz: the agent's request decoder (runtime/native FuzzRequest) for
# FUZZTIME; new crashers land in runtime/native/testdata/fuzz/FuzzRequest.
# make fuzz-format: kpf fmt's formatter against hclwrite (spec
# FuzzFormatMatchesHclwrite; its seeds run in make test). Not in CI yet: one
# CI run ended it with "context deadline exceeded" at the end of its
# FUZZTIME, with no differing input reported.
FUZZTIME ?= 20s

fuzz: ## fuzz the agent's request decoder for FUZZTIME (20s)
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./runtime/native

fuzz-format: ## fuzz kpf fmt's formatter against hclwrite for FUZZTIME (20s)
	$(GO) test -run '^$$' -fuzz '^FuzzFormatMatchesHclwrite$$' -fuzztime $(FUZZTIME) ./spec

# make bench: BENCH_RUNS runs of every micro-benchmark, one after the other
# (so the X/kpf and X/reference pairs of reconcile/ports run side by side in
# each), then the medians and the kpf/reference ratios against the goals of
# issue 10. The raw output stays in $(BENCH_OUT). The views package is in
# for BenchmarkDiffRender1000 (Diff + the human plan view, which moved there).
BENCH_RUNS  ?= 5
BENCH_PKGS  ?= ./spec/... ./reconcile/... ./cmd/kpf/internal/views
BENCH_OUT   ?= $(BIN)/bench.txt
BENCH_GOALS ?= -goal ProbeCached=4 -goal ProbeUncached=2 -goal Resolve50on10=10 -goal Resolve50on10Cold=3 \
	-limit ProbeCached/kpf=10ns

bench: ## micro-benchmarks: medians of BENCH_RUNS runs and kpf/reference ratios (see docs/performance.md)
	@mkdir -p $(BIN) && : > $(BENCH_OUT)
	@failed=0; for i in $$(seq $(BENCH_RUNS)); do \
		echo "bench run $$i of $(BENCH_RUNS), $$(date -u +%H:%M:%S) UTC, load average $$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" >&2; \
		$(GO) test -p 1 -run '^$$' -bench . -benchmem -count 1 $(BENCH_PKGS) >> $(BENCH_OUT) || failed=1; \
	done; \
	echo "finished $$(date -u '+%Y-%m-%d %H:%M:%S') UTC on $$(nproc) CPUs; raw output: $(BENCH_OUT)"; \
	$(GO) run ./test/cmd/benchratio $(BENCH_GOALS) < $(BENCH_OUT) || failed=1; \
	if [ $$failed = 1 ]; then echo "some benchmark failed: see $(BENCH_OUT)" >&2; exit 1; fi

# make startup: kpf built as the release builds it (no cgo, -s -w), then
# hello world / `kpf version` / `kpf plan` of 100 forwards, interleaved
# (STARTUP_FLAGS, e.g. --base OTHER-KPF --runs 400), and the init trace's top
# 10 (issue 20, point 11). Needs no cluster; reports, never asserts.
STARTUP_FLAGS ?=
STARTUP_KPF   := $(BIN)/kpf-release

startup: ## start-up time against a hello world, and the init trace (STARTUP_FLAGS)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(STARTUP_KPF) ./cmd/kpf
	$(GO) run ./test/cmd/kpf-startup --go $(GO) --kpf $(STARTUP_KPF) $(STARTUP_FLAGS)

scale: build ## both runtimes side by side on the local control plane (SCALE_FLAGS=--runtimes=native to pick; see docs/performance.md)
	$(GO) run ./test/cmd/kpf-scale --kpf $(KPF) $(SCALE_FLAGS)

# make dataplane: the bytes a forward carries, side by side in one run on the
# local control plane: the backend directly, kubectl port-forward (WebSocket,
# SPDY), kpf native (SPDY, its default; WebSocket). DATAPLANE_FLAGS adds flags
# (e.g. --bulk 32 --rtts 1000 --paths direct,kpf-ws; --base OTHER-KPF --paths
# kpf-ws,base-ws,kpf-spdy,base-spdy measures a second binary, such as main's,
# in the same run). Reports, never asserts.
DATAPLANE_FLAGS ?=

dataplane: build ## bulk, round trips, new connections, 1,000 at once, a stalled reader: every path side by side (DATAPLANE_FLAGS)
	$(GO) run ./test/cmd/kpf-dataplane --kpf $(KPF) $(DATAPLANE_FLAGS)

# make soak: 100 native forwards under continuous mixed traffic while faults
# rotate for SOAK_DURATION; a table per fault and the goals (exit 1 when one
# is missed). soak-short is the short form CI runs (each fault once, 3–4
# minutes). SOAK_FLAGS adds flags, e.g. SOAK_FLAGS="--watch --faults pod-delete,rollout,kubelet-freeze".
SOAK_DURATION ?= 30m
SOAK_FLAGS    ?=

soak: build ## faults rotating under traffic through 100 native forwards (SOAK_DURATION, SOAK_FLAGS)
	$(GO) run ./test/cmd/kpf-soak --kpf $(KPF) --duration $(SOAK_DURATION) $(SOAK_FLAGS)

soak-short: build ## the short soak CI runs: each fault once (SOAK_FLAGS)
	$(GO) run ./test/cmd/kpf-soak --kpf $(KPF) --duration 2m --gap 5s $(SOAK_FLAGS)

include test/cluster.mk

# The README's first command: kpf on a real local control plane.
demo: build $(TESTCLUSTER) cluster-bin
	KPF=$(KPF) TESTCLUSTER=$(TESTCLUSTER) CLUSTER_STATE=$(CLUSTER_STATE) test/demo.sh

clean:
	rm -rf $(BIN)
