# syntax=docker/dockerfile:1
FROM golang:1.21 AS builder
WORKDIR /app
RUN <<EOF
set -e
go mod download
CGO_ENABLED=0 go build -o server .
EOF
COPY <<-EOT /app/README
	built in a heredoc
	EOT

FROM alpine:3.18
RUN <<EOF bash
adduser -D appuser
EOF
COPY --from=builder /app/server /server
USER appuser
CMD ["/server"]
