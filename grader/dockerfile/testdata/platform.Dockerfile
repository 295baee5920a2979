FROM --platform=$BUILDPLATFORM golang:1.21 AS builder
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/server .

FROM --platform=linux/amd64 alpine:3.18
COPY --from=builder /out/server /server
USER 65534
