# The builder.
# It has the toolchain.
FROM golang:1.21 AS builder   
WORKDIR /app
RUN echo one \
# a comment inside a continuation is dropped
    && echo two
    # an indented comment

#FROM ubuntu:22.04 AS commented-out
FROM alpine:3.18
# COPY --from=nowhere / /
COPY --from=builder /app/server .   
USER 1000 
