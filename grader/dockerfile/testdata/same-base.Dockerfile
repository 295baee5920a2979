FROM golang:1.21 AS builder
RUN go build -o /server .
FROM docker.io/library/golang:1.21
COPY --from=builder /server /server
