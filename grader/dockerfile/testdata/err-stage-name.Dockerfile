FROM golang:1.21 AS 1builder
