# adjoin — developer entry points. `make run` starts the demo stack, `make test` runs every test.
SHELL := /bin/bash
export GOFLAGS ?= -buildvcs=false
BIN := $(CURDIR)/.bin
MODULES := pkg services/dcingest services/endpointingest services/correlator services/badge services/adjoin
SERVICES := dcingest endpointingest correlator badge
# --version prints the commit given to the linker: the builds carry no VCS stamp (-buildvcs=false).
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo +dirty)
LDFLAGS := -X github.com/adjoin/adjoin/pkg/svcmain.commit=$(COMMIT)

.PHONY: bench-ingest run test test-samba test-short lint imports gen gen-check breaking tools build build-off tidy-check fuzz

## run: the whole stack in one process on an embedded JetStream server (data in .adjoin/dev)
run:
	go build -ldflags '$(LDFLAGS)' -o bin/adjoin ./services/adjoin/cmd/adjoin
	exec bin/adjoin dev

## test: generated code and lint checks, API compatibility, every module's tests, GOWORK=off builds;
## the tests run beside a throwaway Samba AD DC when Samba is installed (loudly skipped otherwise);
## test artifacts (the web console's screenshots) are kept under build/test-artifacts
TEST_ARTIFACTS := $(CURDIR)/build/test-artifacts
test: gen-check lint breaking build-off
	go vet work
	mkdir -p $(TEST_ARTIFACTS)
	deploy/samba/with-dc.sh go test -count=1 -p 2 -timeout 20m -artifacts -outputdir $(TEST_ARTIFACTS) work

## test-samba: only the tests that need the real Samba AD DC (LDAP sync, audit log, end to end)
test-samba:
	deploy/samba/with-dc.sh go test -count=1 -p 1 -timeout 10m -run Samba work

## test-short: unit tests only (skips the slow whole-data and end-to-end tests)
test-short:
	go test -short -count=1 work

## tools: build the pinned code generators and linters from tools/go.mod into .bin
TOOLS := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck $(BIN)/goimports $(BIN)/importorder
tools: $(TOOLS)
$(TOOLS) &: tools/go.mod tools/go.sum tools/importorder/main.go
	cd tools && GOWORK=off go build -o $(BIN)/ github.com/bufbuild/buf/cmd/buf \
		google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc \
		honnef.co/go/tools/cmd/staticcheck golang.org/x/tools/cmd/goimports ./importorder

## gen: regenerate pkg/gen from proto/
gen: tools
	$(BIN)/buf generate

## lint: buf lint on proto/; on Go code outside pkg/gen: gofmt, imports grouped std / third party /
## github.com/adjoin (goimports -local and importorder), staticcheck over every module
GOFILES = $$(find pkg services -name '*.go' -not -path 'pkg/gen/*')
lint: tools
	$(BIN)/buf lint
	@out=$$(gofmt -l pkg services | grep -v '^pkg/gen/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$($(BIN)/goimports -local github.com/adjoin -l $(GOFILES)); \
	if [ -n "$$out" ]; then echo "imports need grouping (make imports):"; echo "$$out"; exit 1; fi
	@$(BIN)/importorder $(GOFILES) || { echo "imports out of order: make imports"; exit 1; }
	$(BIN)/staticcheck work

## imports: group every Go file's imports as lint wants them (std, third party, github.com/adjoin)
imports: tools
	$(BIN)/importorder -fix $(GOFILES)
	$(BIN)/goimports -local github.com/adjoin -w $(GOFILES)

## breaking: fail when proto/ breaks the released API (the commit named in proto/RELEASED)
breaking: tools
	$(BIN)/buf breaking --against '.git#ref=$(shell cat proto/RELEASED)'

## gen-check: fail when pkg/gen differs from what proto/ generates
gen-check: gen
	@if [ -n "$$(git status --porcelain -- pkg/gen)" ]; then \
		echo "pkg/gen is out of date with proto/: run 'make gen' and commit"; git status --porcelain -- pkg/gen; exit 1; fi

## build: every binary into bin/
build:
	mkdir -p bin
	for s in $(SERVICES); do go build -ldflags '$(LDFLAGS)' -o bin/ ./services/$$s/cmd/adjoin-$$s; done
	go build -ldflags '$(LDFLAGS)' -o bin/ ./services/adjoin/cmd/adjoin

## build-off: every module builds on its own, as Docker builds do (GOWORK=off)
build-off:
	for m in $(MODULES); do (cd $$m && GOWORK=off go build ./...) || exit 1; done

## fuzz: run every fuzz target (parsers, detectors, the HTTP intake) (package:Target below) for FUZZTIME (30s) each, ~10 min;
## fails first when a func Fuzz* of the repository is missing from the list. An input that fails
## is kept in the package's testdata/fuzz/<Target>/ and runs as a seed in every `go test` after.
FUZZTIME ?= 30s
# Minimizing a new input is capped, so that a slow target (FuzzHTTPIntake publishes to a real
# JetStream) spends its FUZZTIME fuzzing rather than minimizing (Go's default: 60s each).
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := pkg/ingest/cef:FuzzParse pkg/counts:FuzzLedgerReadFrom pkg/entity:FuzzGUIDFromBytes pkg/entity:FuzzNames pkg/entity:FuzzNormalizeSID pkg/entity:FuzzSIDFromBytes \
	pkg/ingest/intake:FuzzHTTPIntake pkg/ingest/intake:FuzzLineReader pkg/ingest/intake:FuzzParseLine pkg/ingest/productalert:FuzzFromCEF pkg/ingest/productalert:FuzzFromGraphAlert \
	pkg/ingest/productalert:FuzzFromMDEAlert pkg/ingest/productalert:FuzzFromMachines pkg/ingest/sambaaudit:FuzzParse pkg/ingest/syslog:FuzzFramer \
	pkg/ingest/syslog:FuzzParseMessage pkg/ingest/winevent:FuzzParse pkg/ingest/wire:FuzzKerberos pkg/ingest/wire:FuzzLDAP \
	pkg/ingest/wire:FuzzNTLM pkg/ingest/wire:FuzzRPC pkg/ingest/wire:FuzzStream pkg/ingest/zeek:FuzzParseJSON pkg/ingest/zeek:FuzzTSVReader \
	services/adjoin:FuzzDetectors services/dcingest/internal/ldapsource:FuzzParseLDIF
fuzz:
	@found=$$(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' pkg services | \
		sed -E 's|^(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]+)\(.*|\1:\2|' | sort -u); \
	missing=$$(comm -23 <(echo "$$found") <(echo $(FUZZ_TARGETS) | tr ' ' '\n' | sort -u)); \
	if [ -n "$$missing" ]; then echo "fuzz targets missing from FUZZ_TARGETS in the Makefile:"; echo "$$missing"; exit 1; fi
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*} $${t#*:} ($(FUZZTIME))"; \
		go test ./$${t%%:*} -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	done

## bench: `adjoin bench`, every figure of docs/performance.md beside its baseline in one run
## on an embedded JetStream server: raw JetStream, alerts through the real correlator and badge
## binaries at 10k, 100k and 1M users, parse + detect, GetBadge, memory per entity; sync always and
## default, then 1M and 10k users side by side (4.5 to 10.5 min on 2 cores, 8 on the VM of 2026-12-08
## morning: the sync-always phases follow the disk). Prints one table and writes bench.json (compare it
## across commits).
.PHONY: bench bench-go
bench:
	mkdir -p bin
	go build -ldflags '$(LDFLAGS)' -o bin/ ./services/adjoin/cmd/adjoin ./services/correlator/cmd/adjoin-correlator ./services/badge/cmd/adjoin-badge
	bin/adjoin bench --json bench.json

## bench-go: the go-test benchmarks: correlator vs raw JetStream and publish->badge latency (10k
## users), then bench-badge and bench-ingest; ~4 min
BENCH := cd services/correlator && go test -run '^$$' -timeout 10m
bench-go:
	$(BENCH) -bench 'RawJetStream' -benchtime=10000x ./
	$(BENCH) -bench 'Correlator/throughput' -benchtime=10000x ./
	$(BENCH) -bench 'Correlator/latency' -benchtime=500x ./
	$(MAKE) bench-badge
	$(MAKE) bench-ingest

## bench-badge: GetBadge QPS and p50/p99 latency of badge.Run at concurrency 1, 16 and 64 (Shire
## directory + 10k users), against a minimal gRPC server in the same run, with the ratios; ~30s
.PHONY: bench-badge
BADGE_BENCHTIME ?= 10000x
bench-badge:
	cd services/badge && go test -run '^$$' -bench '^BenchmarkGetBadge$$' -benchtime=$(BADGE_BENCHTIME) -timeout 3m .

## bench-ingest: parse + detect per core and the whole intake-to-JetStream path, on the largest sample
bench-ingest:
	cd services/adjoin && go test -run '^$$' -bench 'ParseDetect' -benchtime=20000x ./
	cd services/adjoin && go test -run '^$$' -bench 'IntakeToJetStream' -benchtime=5x ./

## images: static binaries (GOWORK=off, CGO_ENABLED=0) and the service images adjoin/<service>:$(IMAGE_TAG),
## adjoin/cli and a local NATS image adjoin/nats built from the nats-server Go module; no registry needed
IMAGE_TAG ?= local
DOCKER_BIN := $(CURDIR)/build/docker/bin
STATIC := CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags '-s -w $(LDFLAGS)'
.PHONY: images
images:
	rm -rf build/docker && mkdir -p $(DOCKER_BIN) build/docker/data
	for s in $(SERVICES); do (cd services/$$s && $(STATIC) -o $(DOCKER_BIN)/ ./cmd/adjoin-$$s) || exit 1; done
	cd services/adjoin && $(STATIC) -o $(DOCKER_BIN)/ ./cmd/adjoin
	cd pkg && $(STATIC) -o $(DOCKER_BIN)/nats-server github.com/nats-io/nats-server/v2
	for t in $(SERVICES) cli; do docker build -q -f deploy/docker/Dockerfile --target $$t -t adjoin/$$t:$(IMAGE_TAG) build/docker || exit 1; done
	docker build -q -f deploy/docker/Dockerfile.nats -t adjoin/nats:$(IMAGE_TAG) build/docker

## up: the secure single-node stack with Docker Compose (docker-compose.yml): builds the images,
## writes ./secrets with `adjoin secrets` if it is missing, starts the stack; CLUSTER=1 starts the
## cluster profile instead (deploy/cluster.env: three NATS servers, R3, two correlators)
.PHONY: up down
COMPOSE := docker-compose $(if $(CLUSTER),--env-file deploy/cluster.env)
up: images
	go build -ldflags '$(LDFLAGS)' -o bin/adjoin ./services/adjoin/cmd/adjoin
	test -f secrets/ca.crt || bin/adjoin secrets --dir secrets --mode 0644
	$(COMPOSE) up -d
	@echo "DC intake https://127.0.0.1:$${DC_PORT:-8081}, endpoint intake https://127.0.0.1:$${ENDPOINT_PORT:-8082}, badge gRPC 127.0.0.1:$${BADGE_PORT:-9090} (mTLS, secrets/grpc-read.*)"

## down: stop the Compose stack (the NATS volumes stay; docker-compose down -v drops them)
down:
	$(COMPOSE) --profile cluster --profile tools down

## test-compose: the Compose end-to-end test: images built here, docker-compose.yml up with
## deploy/cluster.env (as `make up CLUSTER=1`), real events
## posted and a badge read from outside, the NATS leader killed; nothing acknowledged may be lost
.PHONY: test-compose
test-compose: images
	ADJOIN_COMPOSE_E2E=1 go test -count=1 -timeout 15m -run TestComposeCluster -v ./services/adjoin/ 2>&1 | \
		grep -v '^=== \(PAUSE\|CONT\)'; exit $${PIPESTATUS[0]}

## chaos: the fault-injection suite in full (services/adjoin/chaos with ADJOIN_CHAOS=full; `make test`
## runs its reduced form): the correlator SIGKILLed during a 100k-alert replay, nats-server killed
## during HTTP intake, R3 stream leaders killed, bad input, poison messages, hostile clients, the owner
## of COUNTS partitions SIGKILLed while a second correlator takes over; prints each scenario's
## figures and a verdict; ~10-15 min
.PHONY: chaos
chaos:
	ADJOIN_CHAOS=full go test -count=1 -timeout 40m -v ./services/adjoin/chaos/ 2>&1 | \
		grep --line-buffered -v '^=== \(PAUSE\|CONT\)'; exit $${PIPESTATUS[0]}
