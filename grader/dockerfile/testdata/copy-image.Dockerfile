FROM golang:1.21 AS builder
FROM alpine:3.18
COPY --from=nginx:alpine /etc/nginx/nginx.conf /etc/nginx/
COPY --from=builder /app/server .
