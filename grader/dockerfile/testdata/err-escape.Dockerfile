# escape=x
FROM alpine:3.18
