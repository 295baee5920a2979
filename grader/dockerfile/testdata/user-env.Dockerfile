FROM golang:1.21 AS builder
FROM alpine:3.18
ENV APP_USER=appuser APP_HOME=/home/appuser
RUN adduser -D $APP_USER
COPY --from=builder /app/server $APP_HOME/
USER $APP_USER
