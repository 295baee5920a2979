#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image;
# the autograder zip is unpacked in /autograder/source.
#
# Gradescope's containers have no Docker Engine, so `grade` talks to a remote
# one (see run_autograder and docker.env). Nothing here needs Docker.
#
# grade is installed from a prebuilt binary shipped in the zip as bin/grade.
# Build it on your machine from the grade repository:
#     CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bin/grade ./cmd/grade
# (a static binary: it runs on Gradescope's Ubuntu images as is).
# Without a prebuilt binary you would have to install Go 1.26.8+ here and
# `go install <module>/cmd/grade@<version>`, which makes every image build
# slower and depend on the network.
set -euo pipefail

SOURCE_DIR=${SOURCE_DIR:-/autograder/source}
BIN_DIR=${BIN_DIR:-/usr/local/bin}

if [[ ! -f "$SOURCE_DIR/bin/grade" ]]; then
	echo "setup.sh: $SOURCE_DIR/bin/grade is missing: put a linux build of grade in the zip as bin/grade" >&2
	exit 1
fi
install -m 0755 "$SOURCE_DIR/bin/grade" "$BIN_DIR/grade"
"$BIN_DIR/grade" version

# The client certificate of the remote engine: readable by root only.
if [[ -f "$SOURCE_DIR/docker-certs/key.pem" ]]; then
	chmod 0600 "$SOURCE_DIR/docker-certs/key.pem"
fi
if [[ ! -f "$SOURCE_DIR/docker.env" ]]; then
	echo "setup.sh: warning: no docker.env in the zip; run_autograder will use DOCKER_HOST from the environment" >&2
fi
