ARG GO_VERSION=1.21
ARG ALPINE_VERSION=3.18

FROM golang:${GO_VERSION} AS builder
RUN go build -o /server .

FROM alpine:$ALPINE_VERSION
COPY --from=builder /server /server
USER 1000
