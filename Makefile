.PHONY: build images demo test bench clean

GO      ?= go
BIN     := bin/grade
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The grade binary.
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/grade

# Offline stand-ins for the base images golang:1.21 and alpine:3.18 (only
# built when the real images are neither present nor pullable).
images:
	bash fixtures/baseimages/build.sh

# Grade a copy of the starter with the reference solution and print the
# scorecard. The copy and this run's images are removed afterwards.
demo: build images
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -R fixtures/starter "$$tmp/starter"; cp solution/Dockerfile.* "$$tmp/starter/"; \
	./$(BIN) --no-keep --baseline "$$tmp/starter"

# Unit tests, then the integration tests against the real Docker Engine
# (one package at a time: they share the engine's build cache).
test: images
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m ./...

# Remove every image grade has built on this engine.
clean: build
	./$(BIN) clean
