FROM golang:1.21 AS builder
RUN go build -o /server .

FROM alpine:3.18 AS runtime-base
RUN adduser -D -u 1000 appuser
USER appuser
WORKDIR /app

FROM runtime-base
COPY --from=builder /server ./server
CMD ["./server"]
