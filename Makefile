# otelcol-lightning — build, generate and test.
#
# `make test` is THE test command: README's quick start and .ci/run call it.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO          ?= go
BINARY      ?= bin/otelcol-lightning
CONFIG      ?= config/collector.yaml
GO_TIMEOUT  ?= 15m
GENERATE    := internal/buildscripts/generate.sh

# Pure-Go build everywhere: same as ocb's default, a static binary, and a build
# cache shared between `go build`, `go test` and the generator.
export CGO_ENABLED := 0

.PHONY: all
all: generate build test

## generate: regenerate cmd/otelcol-lightning from builder-config.yaml and run mdatagen on every metadata.yaml
.PHONY: generate
generate:
	$(GENERATE) all

## check-generate: fail when the committed generated code is stale (CI runs this)
.PHONY: check-generate
check-generate:
	$(GENERATE) check

## build: build the collector into bin/otelcol-lightning
.PHONY: build
build:
	$(GO) build -trimpath -o $(BINARY) ./cmd/otelcol-lightning

## run: build, then run the collector with config/collector.yaml
.PHONY: run
run: build
	./$(BINARY) --config $(CONFIG)

## validate: check config/collector.yaml against the built binary
.PHONY: validate
validate: build
	./$(BINARY) validate --config $(CONFIG)

## test: the full test suite (generated code, vet, Go unit + end-to-end tests, interop, recorded fixtures, a short fuzz run)
.PHONY: test
test: check-generate vet go-test interop-test interop-v1-test fixtures-check fuzz-short

## fuzz-short: every fuzz target for TEST_FUZZTIME (5s) each, as part of `make test`
TEST_FUZZTIME ?= 5s
.PHONY: fuzz-short
fuzz-short:
	FUZZTIME=$(TEST_FUZZTIME) internal/buildscripts/fuzz.sh

.PHONY: vet
vet:
	$(GO) vet ./...

.PHONY: go-test
go-test:
	@if [ -z "$$LIGHTNING_TEST_POSTGRES_DSN" ]; then \
		echo "make: LIGHTNING_TEST_POSTGRES_DSN is unset: the PostgreSQL tests are skipped (bash .ci/run starts a throwaway server for them)" >&2; \
	fi
	$(GO) test -timeout $(GO_TIMEOUT) ./...

## interop-test: the Python interop suite: the real agentlightning client against the built collector
# interop/run.sh creates .venv from interop/requirements.txt when needed.
.PHONY: interop-test
interop-test:
	interop/run.sh

## interop-v1-test: the Agent Lightning v1.0 suite: the real agentlightning 1.0.x (gateway, controller, rollout manager) against the built collector
# interop/v1/run.sh creates .venv-v1 from interop/v1/requirements.txt when needed.
.PHONY: interop-v1-test
interop-v1-test:
	interop/v1/run.sh

## fixtures-check: re-record the fixtures of real instrumentations (testdata/fixtures) and diff them with the committed ones
# Runs interop/fixtures/record.sh --check: Python >= 3.10 and Node.js >= 20;
# the first run also sets up .venv-fixtures and interop/fixtures/node_modules.
.PHONY: fixtures-check
fixtures-check:
	interop/fixtures/record.sh --check

## fuzz: run every Go fuzz target for FUZZTIME each (default 10s; see internal/buildscripts/fuzz.sh)
.PHONY: fuzz
fuzz:
	internal/buildscripts/fuzz.sh

## bench: the comparison benchmark, quick version (bench/run --quick; bench/run for the full one)
.PHONY: bench
bench:
	bench/run --quick

## lint: gofmt and go vet (no external linters are required)
.PHONY: lint
lint: vet
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

## clean: remove build output
.PHONY: clean
clean:
	rm -rf bin dist

.PHONY: help
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## //'
