ARG BASE
ARG RUNTIME
FROM ${BASE:-golang:1.21} AS builder
FROM ${RUNTIME:-alpine}:${RUNTIME_TAG:-3.18}
COPY --from=builder /go/bin/server /server
