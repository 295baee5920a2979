FROM alpine:3.18 AS base
ENV APP=/srv/app
WORKDIR $APP
WORKDIR bin
WORKDIR ../data/./x/..

FROM base AS child
WORKDIR /abs

FROM alpine:3.18
WORKDIR rel
