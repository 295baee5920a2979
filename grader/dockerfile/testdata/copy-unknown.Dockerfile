FROM golang:1.21 AS builder
FROM alpine:3.18
COPY --from=buidler /app/server .
