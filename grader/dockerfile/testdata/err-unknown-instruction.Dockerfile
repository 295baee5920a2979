FROM golang:1.21 AS builder
RUN go build -o /server .

FORM alpine:3.18
