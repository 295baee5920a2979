FROM golang:1.21 \
    AS builder
WORKDIR /app
COPY go.mod go.sum \
     ./
RUN go mod download && \
    CGO_ENABLED=0 GOOS=linux \
    go build -ldflags="-w -s" \
    -o server .

FROM \
  alpine:3.18
COPY --from=builder \
     /app/server \
     /usr/local/bin/server
USER \
  nobody
ENTRYPOINT ["/usr/local/bin/server"]
