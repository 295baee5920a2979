ARG X=1
RUN echo hello
FROM alpine:3.18
