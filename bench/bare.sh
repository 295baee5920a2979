#!/usr/bin/env bash
# bench/bare.sh DIR — what `grade DIR` does for the reference solution, done
# by hand with the docker CLI and curl: the baseline of `make bench`.
#
#   build Dockerfile.multistage with the classic builder (as grade does),
#   run it with grade's limits on a loopback port, poll GET /health until it
#   answers (at most BARE_START_TIMEOUT seconds, 100 ms apart, like grade),
#   GET /health, GET /info, POST /echo, remove the container.
#
# Exits non-zero when any step fails. The image stays (tag bench-bare:latest)
# as build cache, like grade's default (keep) mode.
#
# BARE_TIMES=FILE writes the phases' start times (bash's $EPOCHREALTIME:
# build run wait probes remove end) to FILE, for bench/bench.sh.
set -euo pipefail

dir=${1:?usage: bench/bare.sh DIR}
image=${BARE_IMAGE:-bench-bare:latest}
timeout=${BARE_START_TIMEOUT:-30}

t_build=$EPOCHREALTIME
DOCKER_BUILDKIT=0 docker build --force-rm -q -f "$dir/Dockerfile.multistage" -t "$image" "$dir" >/dev/null

t_run=$EPOCHREALTIME
cid=$(docker run -d -p 127.0.0.1::8080 --memory 128m --pids-limit 64 --cpus 1 \
	--cap-drop ALL --security-opt no-new-privileges "$image")
# On any failure below the container still goes.
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT

t_wait=$EPOCHREALTIME
addr=$(docker port "$cid" 8080/tcp | head -n 1)
[ -n "$addr" ] || { echo "bare: port 8080 is not published" >&2; exit 1; }
base="http://$addr"

deadline=$((SECONDS + timeout))
until curl -fsS -o /dev/null --max-time 1 "$base/health" 2>/dev/null; do
	if ((SECONDS >= deadline)); then
		echo "bare: /health did not answer within ${timeout}s" >&2
		exit 1
	fi
	sleep 0.1
done

t_probes=$EPOCHREALTIME
body=$(curl -fsS --max-time 5 "$base/health")
[[ $body == *'"status":"healthy"'* ]] || { echo "bare: GET /health: $body" >&2; exit 1; }
body=$(curl -fsS --max-time 5 "$base/info")
[[ $body == *'"service"'* ]] || { echo "bare: GET /info: $body" >&2; exit 1; }
body=$(curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' -d '{"message":"Hello"}' "$base/echo")
[[ $body == *'Hello'* ]] || { echo "bare: POST /echo: $body" >&2; exit 1; }

t_remove=$EPOCHREALTIME
docker rm -f "$cid" >/dev/null
trap - EXIT

if [ -n "${BARE_TIMES:-}" ]; then
	echo "$t_build $t_run $t_wait $t_probes $t_remove $EPOCHREALTIME" >"$BARE_TIMES"
fi
