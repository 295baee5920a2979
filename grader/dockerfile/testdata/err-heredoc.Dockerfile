FROM alpine:3.18
RUN <<EOF
echo never ends
