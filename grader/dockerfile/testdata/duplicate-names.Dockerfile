FROM golang:1.20 AS builder
FROM golang:1.21 AS builder
FROM alpine:3.18
COPY --from=builder /app/server .
