ARG UID=1001
FROM golang:1.21 AS builder
ARG UID
USER $UID
FROM alpine:3.18
COPY --from=builder /app/server .
USER $UID
