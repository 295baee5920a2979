# grade as a container image.
#
#   make image      (or: DOCKER_BUILDKIT=0 docker build -t gradelab/grade .)
#   docker run --rm --network host \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v "$PWD:/work:ro" gradelab/grade --no-keep /work/starter
#
# (README, "grade as a container image", explains each option.) The final
# image is `scratch` with one static binary, /etc/passwd, /tmp and a state
# folder; it runs as uid 65534. No RUN --mount and no heredocs, so the
# classic builder (the docker CLI without buildx) builds it.
#
# Offline: golang:<GO_VERSION> can be the stand-in that
# `bash fixtures/baseimages/build.sh golang-grader` makes (the toolchain
# module from the Go module proxy). grade's modules are downloaded by a RUN
# step, so the engine's build containers must reach a Go module proxy: the
# public one (default), or --build-arg GOPROXY=<url> for another, e.g. the
# host's module cache served over HTTP (see the README).

# Keep in step with go.mod: its toolchain directive, else its go directive
# (internal/imagetest checks it; build.sh golang-grader reads it the same way).
ARG GO_VERSION=1.26.8

# --- modules: the module cache, one layer per go.mod/go.sum -----------------
FROM golang:${GO_VERSION} AS modules
# Marks the builder stages' images, so `make image` can prune the dangling
# ones (and only those); the final stage does not inherit it.
LABEL org.gradelab.grade.builder="1"
WORKDIR /src
# The same flags for every go command below: the dependencies compiled by
# the warm-up step are then reused by the final build.
ENV CGO_ENABLED=0 \
    GOOS=linux \
    GOFLAGS="-trimpath -buildvcs=false" \
    GOCACHE=/cache/go-build
# The standard library, compiled once per Go version (a cached layer).
RUN go build std
ARG GOPROXY
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# --- deps: the packages of other modules that grade imports ----------------
# This list is all the next stage takes from here, so its warm-up step stays
# cached as long as the list and go.mod/go.sum do not change, whatever the
# edit to grade's own source.
FROM modules AS deps
COPY . .
RUN go list -deps -f '{{if and .Module (not .Module.Main)}}{{.ImportPath}}{{end}}' ./cmd/grade > /deps.txt && \
    echo "$(wc -l < /deps.txt) packages of other modules to precompile"

# --- build: compile the dependencies once (a cached layer), then grade ------
FROM modules AS build
COPY --from=deps /deps.txt /deps.txt
RUN go build $(cat /deps.txt)
COPY . .
ARG VERSION=dev
RUN go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/grade ./cmd/grade && \
    /out/grade version && \
    mkdir -p /rootfs/etc /rootfs/tmp /rootfs/var/lib /rootfs/work /state/grade && \
    chmod 1777 /rootfs/tmp && \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > /rootfs/etc/passwd && \
    printf 'root:x:0:\nnogroup:x:65534:\n' > /rootfs/etc/group

# --- final: scratch, one static binary, non-root ----------------------------
FROM scratch
# /etc/passwd+group (uid 65534 = nobody), /tmp (1777: grade writes its
# temporary export tars there), /work (where the submission is mounted).
COPY --from=build /rootfs/ /
# /var/lib/grade: grade's record of the images it built (`grade clean`),
# owned by the runtime user, so that a named volume mounted there is
# writable too. (COPY copies a folder's contents: /state/ holds grade/.)
COPY --from=build --chown=65534:65534 /state/ /var/lib/
COPY --from=build /out/grade /usr/local/bin/grade
ENV TMPDIR=/tmp \
    GRADE_STATE_DIR=/var/lib/grade
# The Docker socket is usually root:docker 0660: run with
# --group-add <the socket's gid> (or --user 0 where that is acceptable).
USER 65534:65534
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/grade"]
