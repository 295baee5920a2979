# syntax=docker/dockerfile:1
# escape=`
FROM golang:1.21 AS builder
WORKDIR C:\app
RUN go build `
    -o server .

FROM alpine:3.18
COPY --from=builder C:\app\server `
     /server
USER app
