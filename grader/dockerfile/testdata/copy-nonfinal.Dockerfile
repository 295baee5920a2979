FROM golang:1.21 AS builder
FROM alpine:3.18 AS packer
COPY --from=builder /app/server .
FROM alpine:3.18
CMD ["./server"]
