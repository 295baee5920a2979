FROM golang:1.21 AS builder
USER appuser
FROM alpine:3.18
COPY --from=builder /app/server .
USER root
