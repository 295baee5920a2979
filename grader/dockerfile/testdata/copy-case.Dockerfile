FROM golang:1.21 AS Builder
FROM alpine:3.18
COPY --from=BUILDER /app/server .
