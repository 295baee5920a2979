FROM golang:1.21 AS builder
FROM alpine:3.18
USER root
RUN apk add --no-cache ca-certificates
USER appuser
COPY --from=builder /app/server .
