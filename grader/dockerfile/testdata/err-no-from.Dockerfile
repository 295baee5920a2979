# only args
ARG GO_VERSION=1.21
