FROM golang:1.21
RUN go build -o /server .
FROM alpine:3.18
COPY --from=0 /server /server
