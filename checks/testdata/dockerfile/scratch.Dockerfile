# Stage 1: build a static binary with the full Go toolchain.
FROM golang:1.21 AS builder

WORKDIR /app

COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -ldflags="-w -s" -o server .

# Stage 2: the empty image; only the static binary goes in.
FROM scratch

COPY --from=builder /app/server /server

# scratch has no /etc/passwd, so use a numeric UID:GID (nobody:nogroup).
USER 65534:65534

EXPOSE 8080

ENTRYPOINT ["/server"]
