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

# grade's own container image (the top-level Dockerfile): FROM
# golang:<go.mod's Go version> (the Dockerfile's default, checked by
# internal/imagetest), made offline by `build.sh golang-grader` when it is
# neither present nor pullable; classic builder (no buildx here). The builder
# stages' dangling images (label org.gradelab.grade.builder) are pruned
# afterwards. IMAGE=name:tag chooses the tag.
.PHONY: image
image: IMAGE ?= gradelab/grade:$(VERSION)
image:
	bash fixtures/baseimages/build.sh golang-grader
	DOCKER_BUILDKIT=0 docker build --force-rm --build-arg VERSION=$(VERSION) -t $(IMAGE) .
	docker image prune -f --filter label=org.gradelab.grade.builder=1 >/dev/null
	@docker image inspect --format '$(IMAGE): {{.Size}} bytes, user {{.Config.User}}' $(IMAGE)

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

# Time grade on the reference solution against bench/bare.sh (the same work
# by hand), cold and warm build cache, with hyperfine; peak RSS with
# /usr/bin/time -v. Writes bench/results.md. Installs hyperfine with apt-get
# when missing (as root), else says how. COLD_RUNS=3 WARM_RUNS=10 by default.
bench: build images
	bash bench/bench.sh

# Time `grade batch -j 2` on 20 submissions against bench/bare.sh run two at
# a time (xargs -P2), with hyperfine (one run each: it is long); the batch
# process's peak RSS with /usr/bin/time -v. Writes bench/batch-results-MODE.md.
# BENCH_MODE=warm (each submission builds its own final stage on a cached
# builder stage) or cold (every build new: use a small BENCH_N), BENCH_N=20,
# BENCH_J=2, BENCH_RUNS=1 by default.
.PHONY: bench-batch
bench-batch: build images
	bash bench/batch.sh

# Remove every image grade has built on this engine.
clean: build
	./$(BIN) clean
