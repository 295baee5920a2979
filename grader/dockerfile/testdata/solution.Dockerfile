# Stage 1: build a static binary with the full Go toolchain.
FROM golang:1.21 AS builder

WORKDIR /app

COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -ldflags="-w -s" -o server .

# Stage 2: a minimal runtime image with only the binary.
FROM alpine:3.18

WORKDIR /app

COPY --from=builder /app/server .

RUN adduser -D -u 1000 appuser
USER appuser

EXPOSE 8080

CMD ["./server"]
