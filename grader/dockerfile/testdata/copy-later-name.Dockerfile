FROM golang:1.21 AS early
COPY --from=late /x /x
COPY --from=early /y /y
FROM alpine:3.18 AS late
COPY --from=early /app/server .
