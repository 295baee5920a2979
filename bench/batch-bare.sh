#!/usr/bin/env bash
# bench/batch-bare.sh J DIR — the baseline of `make bench-batch`: run
# bench/bare.sh on every submission folder in DIR, J at a time (xargs -P),
# each with its own image tag. Exits non-zero when any run failed.
set -euo pipefail
j=${1:?usage: bench/batch-bare.sh J DIR}
dir=${2:?usage: bench/batch-bare.sh J DIR}
bare=$(cd "$(dirname "$0")" && pwd)/bare.sh
export bare
# The inner sh expands $1 and $bare (one folder per call).
# shellcheck disable=SC2016
find "$dir" -mindepth 1 -maxdepth 1 -type d -print0 | sort -z |
	xargs -0 -P "$j" -I{} sh -c 'BARE_IMAGE="bench-batch-bare-$(basename "$1" | tr "[:upper:]" "[:lower:]"):latest" "$bare" "$1"' _ {}
