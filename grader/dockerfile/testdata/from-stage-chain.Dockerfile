FROM alpine:3.18 AS base
USER root
WORKDIR /srv

FROM base AS middle
USER nobody
ENV HOME=/home/nobody

FROM golang:1.21 AS builder
RUN go build -o /server .

FROM middle AS final
COPY --from=builder /server .
WORKDIR app
