FROM golang:1.21 AS builder
FROM Builder
