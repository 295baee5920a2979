FROM golang:1.21
FROM alpine:3.18
COPY --from=1 /server /a
COPY --from=2 /server /b
COPY --from=-1 /server /c
FROM busybox
