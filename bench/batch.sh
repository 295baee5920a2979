#!/usr/bin/env bash
# bench/batch.sh — `make bench-batch`: time `grade batch -j 2` on a class of
# BENCH_N (20) submissions against bench/bare.sh run on the same class two
# at a time (xargs -P2, bench/batch-bare.sh), side by side with hyperfine,
# and measure the batch parent's peak RSS with /usr/bin/time -v (the
# children, one grade per submission, are separate processes).
# Writes bench/batch-results-MODE.md (and the raw hyperfine export
# bench/batch-results-MODE.json).
#
# The class: BENCH_N copies of a few fixtures (BENCH_FIXTURES; each one the
# starter plus the fixture's Dockerfile.multistage, without Dockerfile.scratch
# so both sides build and run one image), named sNN-<fixture>. A LABEL after
# a FROM makes a stage's steps new to the build cache:
#   BENCH_MODE=warm (default): the final stage of every copy gets a nonce
#     unique to the copy and the run, the builder stage one label per bench
#     run, built once before the timed runs. Every submission builds its own
#     final stage (COPY --from, RUN adduser) on a cached builder stage: the
#     batch's own overhead (a process, an engine session, the image checks
#     per submission) is what the ratio shows.
#   BENCH_MODE=cold: every stage of every copy gets a nonce, as if each
#     student's work were new: every build compiles the program (about a
#     minute each on 2 CPUs, so use a small BENCH_N).
# The labels also mark every image the bench builds, builder stages
# included, so the bench removes exactly those (never forced, never a
# prune): the final stages before each timed run, everything at the end.
#
# Settings (environment): BENCH_MODE (warm), BENCH_N (20), BENCH_J (2),
# BENCH_RUNS (1), BENCH_FIXTURES ("solution no-user user-root copy-from-index"),
# GRADE (bin/grade).
#
#   bench/batch.sh                 the benchmark
#   bench/batch.sh prep WORK SIDE  (hyperfine --prepare) new nonces for one
#                                  side's copies, and no image of the bench left
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench-batch: %s\n' "$*" >&2; exit 1; }

nonce() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# remove_images RUN [LABEL]: remove every image labelled with this bench run
# (and with LABEL, when given), repeating while that makes progress (a
# parent goes once its children went).
remove_images() {
	local run=$1 ids left=-1 n
	local -a filters=(--filter "label=bench.batch.run=$run")
	[ -z "${2:-}" ] || filters+=(--filter "label=$2")
	while :; do
		ids=$(docker images -a -q --no-trunc "${filters[@]}" | sort -u)
		n=$(printf '%s' "$ids" | grep -c . || true)
		if [ "$n" -eq 0 ] || [ "$n" = "$left" ]; then
			break
		fi
		left=$n
		# shellcheck disable=SC2086
		docker rmi --no-prune $ids >/dev/null 2>&1 || true
	done
}

# relabel DIR RUN SIDE MODE: a LABEL after every FROM of DIR's
# Dockerfile.multistage, with a new nonce on the final stage (warm) or on
# every stage (cold).
relabel() {
	local f=$1/Dockerfile.multistage run=$2 side=$3 mode=$4
	awk -v run="$run" -v side="$side" -v mode="$mode" -v n="$(nonce)" '
		/^LABEL bench\.batch\.run=/ { next }
		{ line[++count] = $0; from[count] = toupper($1) == "FROM"; if (from[count]) last = count }
		END {
			for (i = 1; i <= count; i++) {
				print line[i]
				if (!from[i]) continue
				if (mode == "cold" || i == last)
					print "LABEL bench.batch.run=" run " bench.batch.side=" side " bench.batch.nonce=" n
				else
					print "LABEL bench.batch.run=" run " bench.batch.stage=shared"
			}
		}' "$f" >"$f.tmp"
	mv "$f.tmp" "$f"
}

if [ "${1:-}" = prep ]; then
	work=${2:?usage: bench/batch.sh prep WORK SIDE}
	side=${3:?usage: bench/batch.sh prep WORK SIDE}
	run=$(cat "$work/run")
	mode=$(cat "$work/mode")
	remove_images "$run" bench.batch.nonce
	for d in "$work/$side"/*/; do
		relabel "${d%/}" "$run" "$side" "$mode"
	done
	[ "$side" != batch ] || rm -rf "$work/out"
	exit 0
fi

MODE=${BENCH_MODE:-warm}
case $MODE in warm | cold) ;; *) die "BENCH_MODE must be warm or cold (got $MODE)" ;; esac
N=${BENCH_N:-20}
J=${BENCH_J:-2}
RUNS=${BENCH_RUNS:-1}
read -r -a FIXTURES <<<"${BENCH_FIXTURES:-solution no-user user-root copy-from-index}"
GRADE=${GRADE:-bin/grade}

# --- tools -----------------------------------------------------------------
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing $2 (for $1)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 || {
			apt-get update >/dev/null && apt-get install -y --no-install-recommends "$2" >/dev/null
		} || die "could not install $2: run \`sudo apt-get install $2\`"
	else
		die "$1 is missing: install it with \`sudo apt-get install $2\` and run make bench-batch again"
	fi
}
need hyperfine hyperfine
need /usr/bin/time time
need curl curl
need jq jq
docker info >/dev/null 2>&1 || die "the Docker Engine does not answer (start dockerd, or set DOCKER_HOST)"
for base in golang:1.21 alpine:3.18; do
	docker image inspect "$base" >/dev/null 2>&1 || die "base image $base is missing: run \`make images\`"
done
[ -x "$GRADE" ] || die "$GRADE is missing: run \`make build\`"

# --- the class -------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/grade-bench-batch.XXXXXX")
run=$(nonce)
echo "$run" >"$work/run"
echo "$MODE" >"$work/mode"
mkdir -p "$work/tmp" "$work/state"
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	log "cleaning up: the bench's images and $work"
	remove_images "$run"
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the grader: others may rebuild bin/grade meanwhile.
cp "$GRADE" "$work/grade"
grade_version=$("$work/grade" version | awk '{print $2}')

for side in batch bare; do
	for ((i = 1; i <= N; i++)); do
		fx=${FIXTURES[(i - 1) % ${#FIXTURES[@]}]}
		d=$work/$side/$(printf 's%02d-%s' "$i" "$fx")
		mkdir -p "$d"
		cp -R fixtures/starter/. "$d/"
		if [ "$fx" = solution ]; then
			cp solution/Dockerfile.multistage "$d/"
		else
			cp -R "fixtures/submissions/$fx/." "$d/"
		fi
		rm -f "$d/SUBMISSION.md" "$d/Dockerfile.scratch"
	done
done
log "class: $N submissions (${FIXTURES[*]}), graded $J at a time, $MODE"
if [ "$MODE" = warm ]; then
	# The shared builder stage of each fixture, built once (not timed).
	for fx in "${FIXTURES[@]}"; do
		d=$(find "$work/batch" -mindepth 1 -maxdepth 1 -type d -name "s*-$fx" | sort | head -n 1)
		relabel "$d" "$run" batch warm
		log "building the builder stage of $fx (not timed)"
		DOCKER_BUILDKIT=0 docker build -q --force-rm --target builder -f "$d/Dockerfile.multistage" "$d" >/dev/null
	done
fi

# grade's temporary files and its record of built images stay in $work, as
# in bench/bench.sh; both sides get the same environment.
export TMPDIR=$work/tmp
export GRADE_STATE_DIR=$work/state
unset DOCKER_BUILDKIT

json=bench/batch-results-$MODE.json
md=bench/batch-results-$MODE.md
batch_cmd="/usr/bin/time -v -a -o $work/rss.txt $work/grade batch -j $J --progress none --out $work/out $work/batch"
bare_cmd="$root/bench/batch-bare.sh $J $work/bare"

# --- hyperfine -------------------------------------------------------------
log "hyperfine: $RUNS run(s) of each side"
echo "start $(cut -d' ' -f1-3 /proc/loadavg)" >"$work/load"
hyperfine --runs "$RUNS" -i \
	--prepare "$root/bench/batch.sh prep $work batch" \
	--prepare "$root/bench/batch.sh prep $work bare" \
	--export-json "$json" \
	-n "grade batch -j $J" "$batch_cmd" \
	-n "bare.sh, xargs -P$J" "$bare_cmd"
echo "end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/load"

# Both sides must have done the work: every bare.sh run passed, and the
# batch graded every submission.
jq -e '.results[] | select(.command | startswith("bare")) | .exit_codes | all(. == 0)' "$json" >/dev/null ||
	die "bench/batch-bare.sh failed (see above)"
jq -e '.results[] | select(.command | startswith("grade")) | .exit_codes | all(. == 0)' "$json" >/dev/null ||
	die "grade batch did not grade every submission"
rows=$(($(wc -l <"$work/out/gradebook.csv") - 1))
[ "$rows" = "$N" ] || die "the gradebook has $rows rows, want $N"
graded=$(jq -s '[.[] | select(.gradable)] | length' "$work/out/results.jsonl")
[ "$graded" = "$N" ] || die "$graded of $N submissions gradable"
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/rss.txt" | sort -n | tail -1)
[ -n "$rss" ] || die "no peak RSS from /usr/bin/time -v"
# The children's own time: the sum of the reports' durations.
child_s=$(jq -s '[.[].duration_ms] | add / 1000' "$work/out/results.jsonl")

jq -r --arg rss "$rss" --arg version "$grade_version" --arg n "$N" --arg j "$J" \
	--arg fixtures "${FIXTURES[*]}" --arg mode "$MODE" --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
	--arg docker "$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')" \
	--arg cpus "$(nproc)" --arg load "$(paste -sd';' "$work/load")" --arg child "$child_s" '
	def r2: . * 100 | round / 100 | tostring;
	(.results | map({(.command | split(" ")[0]): .}) | add) as $m
	| ($m["grade"].mean / $m["bare.sh,"].mean) as $ratio
	| "# `make bench-batch` results (BENCH_MODE=\($mode))",
	  "",
	  "grade \($version), \($n) submissions (copies of: \($fixtures)), \($j) at a time, \(if $mode == "cold" then "cold: every build new, no cached step but the base images" else "warm builder stage: every submission builds its own final stage on a cached builder stage" end). \($date); \($cpus) CPUs; Docker Engine \($docker). Wall clock from hyperfine, \($m["grade"].times | length) run(s) each.",
	  "",
	  "| | wall clock | per submission | target | |",
	  "|---|---|---|---|---|",
	  "| `grade batch -j \($j)` | \($m["grade"].mean | r2) s | \($m["grade"].mean / ($n | tonumber) | r2) s | | |",
	  "| `bare.sh` × \($n), `xargs -P\($j)` | \($m["bare.sh,"].mean | r2) s | \($m["bare.sh,"].mean / ($n | tonumber) | r2) s | | |",
	  "| batch / bare | **\($ratio | r2)** | | ≤ 1.1 | \(if $ratio <= 1.1 then "met" else "missed" end) |",
	  "| peak RSS of the batch process | \(($rss | tonumber) / 1024 | r2) MiB | | < 150 MB | \(if ($rss | tonumber) * 1024 < 150000000 then "met" else "missed" end) |",
	  "",
	  "- The children (one `grade` per submission) reported \($child | tonumber | r2) s of grading in total.",
	  "- Load average (1/5/15 min): \($load).",
	  "- Both sides build the same Dockerfiles with the classic builder; the batch removes the images of each submission when it is graded (`--no-keep`), bare.sh keeps them (the bench removes them before each run)."
	' "$json" >"$md"
cat "$md"
