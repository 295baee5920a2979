FROM golang:1.21 AS builder
FROM scratch
COPY --from=builder /app/server /server
USER appuser
ENTRYPOINT ["/server"]
