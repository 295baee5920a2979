# syntax=docker/dockerfile:1
FROM golang:1.21 AS builder
LABEL org.opencontainers.image.title="go-api"
MAINTAINER someone@example.com
ENV CGO_ENABLED=0
ADD https://example.com/file.tar.gz /tmp/
ONBUILD RUN echo hi
SHELL ["/bin/bash", "-c"]
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /server .
FROM alpine:3.18
COPY --from=builder --chown=1000:1000 --chmod=755 --link /server /server
EXPOSE 8080/tcp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://localhost:8080/health || exit 1
USER 1000:1000
ENTRYPOINT ["/server"]
