FROM golang:1.21 AS builder
ARG RUNTIME=debian
FROM ${RUNTIME:-alpine}:3.18
COPY --from=builder /app/server .
