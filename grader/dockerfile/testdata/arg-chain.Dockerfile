ARG REGISTRY=docker.io/library
ARG GO_IMAGE=${REGISTRY}/golang
ARG GO_TAG=1.21
ARG GO_TAG=${GO_TAG}-alpine
FROM ${GO_IMAGE}:${GO_TAG} AS builder
FROM $REGISTRY/alpine:3.18 AS final
COPY --from=builder /app/server .
