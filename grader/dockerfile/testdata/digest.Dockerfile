FROM golang:1.21@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS builder
FROM ghcr.io/distroless/static:nonroot
COPY --from=builder /app/server /server
