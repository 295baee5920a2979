FROM golang:1.21 AS builder
FROM alpine:3.18
ARG UID=1000
ARG GID=${UID}
RUN addgroup -g ${GID} app && adduser -D -u ${UID} -G app app
COPY --from=builder /app/server .
USER ${UID}:${GID}
