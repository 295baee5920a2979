FROM alpine:3.18 AS base
CMD ./server --port 8080
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["./server"]

FROM base AS inherits

FROM base AS resets
ENTRYPOINT /entry.sh

FROM base
CMD echo "$HOME"
