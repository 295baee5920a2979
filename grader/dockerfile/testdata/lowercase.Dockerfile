from golang:1.21 as builder
workdir /app
copy . .
run CGO_ENABLED=0 go build -o server .

from alpine:3.18
copy --from=builder /app/server .
run adduser -D -u 1000 appuser
user appuser
cmd ["./server"]
