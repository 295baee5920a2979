#!/usr/bin/env bash
# bench/bench.sh — `make bench`: time `grade` on the reference solution
# against bench/bare.sh (the same work done by hand with the docker CLI and
# curl), cold and warm build cache, side by side, with hyperfine; measure
# grade's peak RSS with /usr/bin/time -v. Writes bench/results.md (summary,
# where the time goes, tables) and bench/results-{cold,warm}.{md,json} (the
# rounds' hyperfine exports merged per command, with each run's phases).
#
# Settings (environment): COLD_RUNS (3), WARM_RUNS (10), GRADE (bin/grade),
# GRADE_BUILD_TIMEOUT (30m, grade's --build-timeout).
#
# The submission is a temporary copy of fixtures/starter plus
# solution/Dockerfile.multistage only (no Dockerfile.scratch: grade skips the
# bonus, so both sides build, run and probe one image). Its go.mod gets a
# module path unique to this bench run, which changes every COPY step's
# content hash and the built binary: other builds on the same engine
# (integration tests of the same fixtures) cannot lend it their cache, so
# "cold" is cold for every layer of the submission, while the base images
# and the shared `WORKDIR /app` layers on them stay cached, as for a student.
#
# The engine may be shared: the bench removes only what it built (see
# bench/images.sh), never base images, never by force, never a prune.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
COLD_RUNS=${COLD_RUNS:-3}
WARM_RUNS=${WARM_RUNS:-10}
GRADE=${GRADE:-bin/grade}

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools -----------------------------------------------------------------
# need CMD DEBIAN-PACKAGE: install with apt-get when possible, else say how.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing $2 (for $1)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 || {
			apt-get update >/dev/null && apt-get install -y --no-install-recommends "$2" >/dev/null
		} || die "could not install $2: run \`sudo apt-get install $2\`"
	else
		die "$1 is missing: install it with \`sudo apt-get install $2\` (Debian/Ubuntu) and run make bench again"
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

# --- workspace -------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/grade-bench.XXXXXX")
state=$work/state
sub=$work/submission
mkdir -p "$state" "$work/tmp" "$work/grade-state"
# Every image present now is never touched (see bench/images.sh).
docker images -a -q --no-trunc | sort -u >"$state/s0"

cleanup() {
	local rc=$? i
	trap '' INT TERM # a second signal must not cut the cleanup short
	trap - EXIT
	log "cleaning up: this run's containers and images, $work"
	# After an interruption the engine may still commit a step or two of a
	# build whose client went away: clean until nothing of ours is left.
	for i in 1 2 3 4 5 6; do
		"$root/bench/images.sh" "$state" clean || true
		sleep 2
		[ -n "$("$root/bench/images.sh" "$state" list 2>/dev/null)" ] || break
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the grader: other people may rebuild bin/grade meanwhile.
cp "$GRADE" "$work/grade"
grade_version=$("$work/grade" version | awk '{print $2}')

mkdir "$sub"
cp -R fixtures/starter/. "$sub/"
cp solution/Dockerfile.multistage "$sub/"
[ ! -e "$sub/Dockerfile.scratch" ] || die "the submission must not have Dockerfile.scratch"
nonce=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
sed -i "s|^module go-api\$|module go-api-bench-$nonce|" "$sub/go.mod"
grep -q "^module go-api-bench-$nonce\$" "$sub/go.mod" || die "could not set the module path in $sub/go.mod"

# grade's temporary files and its record of built images stay in $work: the
# integration tests that may run meanwhile look for grade-fs-* in /tmp and
# call `grade clean` (which sweeps every grade-lab/* tag on the engine) with
# their own state, and must not see ours. Both sides get the same env.
export TMPDIR=$work/tmp
export GRADE_STATE_DIR=$work/grade-state
unset DOCKER_BUILDKIT

# grade's stable tag for the folder: grade-lab/<slug>-<sha256(abs path)[:8]>:multistage
grade_ref="grade-lab/submission-$(printf '%s' "$sub" | sha256sum | cut -c1-8):multistage"
printf '%s\n' "bench-bare:latest" "$grade_ref" >"$state/tags"

# grade runs in its default mode (images kept as build cache), except for a
# generous build timeout: on a busy shared engine a cold `go build` can take
# longer than the default 5 minutes, and grade then (rightly) fails the
# student's build, which would abort the bench. The script has no timeout.
# (A string: it goes into hyperfine's command lines too; it splits on purpose.)
grade_flags="--build-timeout ${GRADE_BUILD_TIMEOUT:-30m}"

# --- prime: learn the submission's COPY steps, check both sides work ------
log "priming: one verbose build to learn the submission's layers"
DOCKER_BUILDKIT=0 docker build --force-rm -f "$sub/Dockerfile.multistage" -t bench-bare:latest "$sub" \
	>"$work/prime.log" 2>&1 || { cat "$work/prime.log" >&2; die "priming build failed"; }
grep -oE '^ ---> [0-9a-f]{12}$' "$work/prime.log" | awk '{print $2}' | xargs docker image inspect |
	jq -r --rawfile s0 "$state/s0" '
		($s0 | split("\n")) as $old
		| .[] | select((.Id | IN($old[])) | not)
		| select((.ContainerConfig.Cmd // []) | join(" ") | test("#\\(nop\\) COPY "))
		| .ContainerConfig.Cmd | tojson' >"$state/sigs"
[ "$(wc -l <"$state/sigs")" -eq 3 ] ||
	die "expected 3 new COPY layers in the priming build, found $(wc -l <"$state/sigs") (see $work/prime.log)"
if ! grep -q 'RUN CGO_ENABLED=0' "$work/prime.log" || grep -A1 'RUN CGO_ENABLED=0' "$work/prime.log" | grep -q 'Using cache'; then
	die "the priming build did not run go build: the submission is not unique"
fi

# The first grade runs double as the peak-RSS runs (/usr/bin/time -v) and
# as the check that both sides work: one cold, one warm, then the script.
# rss NAME: one grade run under /usr/bin/time -v, which must pass every
# required check and skip the bonus; prints the peak RSS in KiB.
rss() {
	local rc=0
	# shellcheck disable=SC2086
	/usr/bin/time -v -o "$work/rss-$1.time" "$work/grade" $grade_flags --format json --output "$work/rss-$1.json" "$sub" \
		>/dev/null 2>"$work/rss-$1.err" || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$work/rss-$1.err" >&2
		jq -r '.checks[]? | select(.status == "fail" or .status == "error") | "  \(.id): \(.status): \(.message)"' "$work/rss-$1.json" >&2 || true
		die "grade exited $rc on the reference solution ($1 run)"
	fi
	jq -e '.passed and .gradable and (.checks[] | select(.id == "bonus.scratch") | .status == "skip")' "$work/rss-$1.json" >/dev/null ||
		die "grade did not pass every required check or did not skip the bonus ($1 run)"
	awk -F': ' '/Maximum resident set size/ {print $2}' "$work/rss-$1.time"
}
log "peak RSS and checks: one cold and one warm grade run under /usr/bin/time -v"
"$root/bench/images.sh" "$state" clean
rss_cold=$(rss cold)
rss_warm=$(rss warm)
[ -n "$rss_cold" ] && [ -n "$rss_warm" ] || die "could not read the peak RSS from /usr/bin/time -v"
docker image inspect "$grade_ref" >/dev/null 2>&1 || die "grade did not tag $grade_ref"
log "checking bench/bare.sh"
bench/bare.sh "$sub" >/dev/null 2>"$work/bare.err" || { cat "$work/bare.err" >&2; die "bench/bare.sh failed"; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Each timed run leaves a record of its phases: grade its JSON report (per
# check duration_ms), the script the start times of its phases (BARE_TIMES).
# The record goes to a fixed file; the prepare before the next run, and the
# end of each round, file it in the round's folder, numbered: the records
# are in run order (warm-ups first) and pair with hyperfine's times. Writing
# the report costs grade well under a millisecond; none of the filing is
# timed.
mkdir -p "$work/runs"
grade_cmd="$work/grade $grade_flags --format json --output $work/runs/grade.cur $sub"
bare_cmd="BARE_TIMES=$work/runs/bare.cur $root/bench/bare.sh $sub"
file_record() { # file_record SIDE DIR: shell code that files SIDE's last record in DIR
	echo "if [ -f $work/runs/$1.cur ]; then n=\$(ls $2 | wc -l); mv $work/runs/$1.cur $2/\$(printf %04d \$n); fi"
}

# --- rounds ----------------------------------------------------------------
# Other builds share this engine and its 2 CPUs, and their load drifts by a
# factor of several within minutes. One hyperfine call runs all of grade's
# runs, then all of the script's, which would put the drift into the ratio.
# So each phase is a few hyperfine calls ("rounds") with both commands,
# alternating which goes first (grade-bare, bare-grade, ...), and the rounds'
# exports are merged into one result per command (same JSON fields as
# hyperfine's export, plus each run's phases, plus the rounds themselves).
#
# phase NAME ROUNDS RUNS_PER_ROUND WARMUP GRADE_PREPARE BARE_PREPARE
phase() {
	local name=$1 rounds=$2 per=$3 warmup=$4 gextra=$5 bextra=$6 i
	local -a files=()
	for ((i = 1; i <= rounds; i++)); do
		local gdir=$work/runs/$name-$i/grade bdir=$work/runs/$name-$i/bare
		mkdir -p "$gdir" "$bdir"
		local gprep bprep
		gprep="$(file_record grade "$gdir"); $gextra"
		bprep="$(file_record bare "$bdir"); $bextra"
		local -a preps=(--prepare "$gprep" --prepare "$bprep")
		local -a cmds=(-n "grade ($name)" "$grade_cmd" -n "bare.sh ($name)" "$bare_cmd")
		local first=grade
		if ((i % 2 == 0)); then
			preps=(--prepare "$bprep" --prepare "$gprep")
			cmds=(-n "bare.sh ($name)" "$bare_cmd" -n "grade ($name)" "$grade_cmd")
			first=bare.sh
		fi
		log "$name: round $i of $rounds ($first first), $per run(s) each"
		echo "round $i $(loadavg)" >>"$work/load-$name"
		# One --prepare per command, in the commands' order.
		hyperfine --runs "$per" --warmup "$warmup" "${preps[@]}" \
			--export-json "$work/$name-$i.hyperfine.json" "${cmds[@]}" >&2 ||
			die "hyperfine failed in the $name phase (a command exited non-zero)"
		sh -c "$(file_record grade "$gdir")"
		sh -c "$(file_record bare "$bdir")"
		# One object per round: hyperfine's export, grade's reports, the
		# script's phase times; warm-ups dropped.
		jq -n --slurpfile h "$work/$name-$i.hyperfine.json" --argjson w "$warmup" \
			--slurpfile g <(cat /dev/null "$gdir"/* 2>/dev/null) \
			--rawfile b <(cat /dev/null "$bdir"/* 2>/dev/null) '
			{ hyperfine: $h[0], grade: $g[$w:],
			  bare: ($b | split("\n") | map(select(. != "") | split(" ") | map(tonumber)))[$w:] }' \
			>"$work/$name-$i.json"
		files+=("$work/$name-$i.json")
	done
	echo "end $(loadavg)" >>"$work/load-$name"
	jq -s '
		def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def sd: if length < 2 then null else (add / length) as $m | (map((. - $m) * (. - $m)) | add / (length - 1) | sqrt) end;
		def ms($r; $ids): [$r.checks[] | select(.id | IN($ids[])) | .duration_ms] | add // 0 | . / 1000;
		# grade: phases from its report; what the report does not cover (process
		# start-up, removing the container, writing the report) is wall - duration.
		def grade_phases($wall):
			ms(.; ["image.build"]) as $build
			| ms(.; ["image.size", "image.no-toolchain", "image.static-binary", "image.non-root"]) as $export
			| ms(.; ["runtime.start"]) as $start
			| ms(.; ["runtime.non-root", "runtime.health", "runtime.info", "runtime.echo", "bonus.scratch"]) as $probes
			| { wall: $wall, build: $build, export: $export, start: $start, probes: $probes,
			    rest: ($wall - $build - $export - $start - $probes), nonbuild: ($wall - $build) };
		# the script: build run wait probes remove end
		def bare_phases($wall):
			{ wall: $wall, build: (.[1] - .[0]), export: 0, start: (.[3] - .[1]), probes: (.[4] - .[3]),
			  rest: ($wall - (.[1] - .[0]) - (.[3] - .[1]) - (.[4] - .[3])), nonbuild: ($wall - (.[1] - .[0])) };
		def runs($round; $cmd):
			($round.hyperfine.results[] | select(.command == $cmd) | .times) as $t
			| if ($cmd | startswith("grade")) then
				[range(0; $t | length) as $k | $round.grade[$k] // null | if . then grade_phases($t[$k]) else null end]
			  else
				[range(0; $t | length) as $k | $round.bare[$k] // null | if . then bare_phases($t[$k]) else null end]
			  end;
		. as $rounds
		| { results: ([.[] | . as $r | .hyperfine.results[] | . + {runs: runs($r; .command)}] | group_by(.command) | map(
			(map(.times) | add) as $t
			| (map(.runs) | add | map(select(. != null))) as $runs
			| { command: .[0].command,
			    mean: ($t | add / length), stddev: ($t | sd), median: ($t | median),
			    user: (map(.user * (.times | length)) | add / ($t | length)),
			    system: (map(.system * (.times | length)) | add / ($t | length)),
			    min: ($t | min), max: ($t | max), times: $t,
			    exit_codes: (map(.exit_codes) | add),
			    phases: { median: (if ($runs | length) == 0 then null else
			                ($runs[0] | keys_unsorted | map({(.): ([$runs[][.]] | median)}) | add) end),
			              runs: $runs } }) | sort_by(.command) | reverse),
		  rounds: $rounds }' "${files[@]}" >"bench/results-$name.json"
	# The same table as hyperfine --export-markdown, over all rounds.
	jq -r '
		def f: . * 1000 | round / 1000 | tostring | if test("\\.") then . + "000" | .[:index(".") + 4] else . + ".000" end;
		(.results | min_by(.mean)) as $best
		| "| Command | Mean [s] | Min [s] | Max [s] | Relative |",
		  "|:---|---:|---:|---:|---:|",
		  (.results[] |
			(.mean / $best.mean) as $r
			| ($r * ((((.stddev // 0) / .mean) | . * .) + ((($best.stddev // 0) / $best.mean) | . * .) | sqrt) * 100 | round / 100) as $e
			| "| `\(.command)` | \(.mean | f)\(if .stddev then " ± " + (.stddev | f) else "" end) | \(.min | f) | \(.max | f) | \(if .command == $best.command then "1.00" else (($r * 100 | round / 100 | tostring) + (if .stddev then " ± \($e)" else "" end)) end) |")
	' "bench/results-$name.json" >"bench/results-$name.md"
	cat "bench/results-$name.md" >&2
}

# --- cold ------------------------------------------------------------------
# Before every run, every image of the submission goes (both sides share
# the builder-stage cache, so also the other side's).
log "cold: $COLD_RUNS round(s), one run of each command per round"
clean="$root/bench/images.sh $state clean"
phase cold "$COLD_RUNS" 1 0 "$clean" "$clean"

# --- warm ------------------------------------------------------------------
# Before every warm run, note the id of the image each side will reuse: a
# concurrent `grade clean` (the integration tests' TestMain runs one) removes
# every grade-lab/* tag on the engine, and the next "warm" grade run then
# rebuilds its last layers. The ids show whether that happened.
note_id() { echo "id=\$(docker image inspect -f '{{.Id}}' $1 2>/dev/null) || id=none; echo \"\$id\" >>$state/warm-ids-$2"; }
warm_rounds=2
((WARM_RUNS >= 2)) || warm_rounds=1
log "warm: $warm_rounds round(s) of $((WARM_RUNS / warm_rounds)) run(s) each after one warm-up; everything cached"
phase warm "$warm_rounds" "$((WARM_RUNS / warm_rounds))" 1 "$(note_id "$grade_ref" grade)" "$(note_id bench-bare:latest bare)"
warm_changes() { # image id changes seen before timed or warm-up runs after the first
	tail -n +2 "$state/warm-ids-$1" | awk 'NR > 1 && $0 != prev {n++} {prev = $0} END {print n + 0}'
}
warm_cache="image id changes seen between warm runs: grade $(warm_changes grade), bare $(warm_changes bare) (0 = warm throughout)"

# --- results ---------------------------------------------------------------
jq -n -r \
	--slurpfile cold bench/results-cold.json --slurpfile warm bench/results-warm.json \
	--slurpfile gc "$work/rss-cold.json" --slurpfile gw "$work/rss-warm.json" \
	--arg rss_cold "$rss_cold" --arg rss_warm "$rss_warm" \
	--arg version "$grade_version" --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
	--arg docker "$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')" \
	--arg driver "$(docker info --format '{{.Driver}}')" --arg cpus "$(nproc)" \
	--arg lc "$(paste -sd';' "$work/load-cold")" --arg lw "$(paste -sd';' "$work/load-warm")" \
	--arg warm_cache "$warm_cache" '
	def r2: . * 100 | round / 100 | tostring | if test("\\.") then . else . + ".0" end;
	def pair($r): ($r.results | map({(.command | split(" ")[0]): .}) | add) as $m
		| {g: $m["grade"], b: $m["bare.sh"]}
		| . + {ratio: (.g.mean / .b.mean),
		       # standard error of the ratio of the means (σ/√n of each, propagated)
		       err: ((.g.mean / .b.mean) * (((.g.stddev // 0) / .g.mean / (.g.times | length | sqrt)) as $x
		             | ((.b.stddev // 0) / .b.mean / (.b.times | length | sqrt)) as $y | ($x*$x + $y*$y) | sqrt))};
	def verdict($p; $target):
		if $p.ratio + $p.err <= $target then "met"
		elif $p.ratio - $p.err > $target then "missed"
		else "not resolved: ± spans the target" end;
	def row($name; $p; $target): "| \($name), \($p.g.times | length) runs each | \($p.g.mean | r2) s ± \($p.g.stddev // 0 | r2) (median \($p.g.median | r2)) | \($p.b.mean | r2) s ± \($p.b.stddev // 0 | r2) (median \($p.b.median | r2)) | **\($p.ratio | r2)** ± \($p.err | r2) (medians: \($p.g.median / $p.b.median | r2)) | ≤ \($target) | \(verdict($p; $target)) |";
	def mib: (tonumber / 1024 * 10 | round / 10 | tostring) + " MiB";
	def checks($r): $r.checks | map(select(.duration_ms >= 5)) | map("\(.id) \(.duration_ms) ms") | join(", ");
	pair($cold[0]) as $c | pair($warm[0]) as $w |
	"# `make bench` results",
	"",
	"grade \($version) grading the reference solution (fixtures/starter + solution/Dockerfile.multistage, no Dockerfile.scratch, so the bonus is skipped) against `bench/bare.sh`, the same build, run, /health poll, three probes and removal done with the docker CLI and curl. \($date); \($cpus) CPUs; Docker Engine \($docker), storage driver \($driver). Wall clock from hyperfine: mean ± standard deviation (median); the ratio of the means ± its standard error (σ/√n of each side, propagated), which decides “met” or “missed”.",
	"",
	"| | grade | bare script | grade / bare | target | |",
	"|---|---|---|---|---|---|",
	row("cold"; $c; 1.05),
	row("warm"; $w; 1.2),
	"| peak RSS of grade | cold \($rss_cold | mib), warm \($rss_warm | mib) | | | < 100 MB | \(if ([$rss_cold, $rss_warm] | map(tonumber) | max) * 1024 < 100000000 then "met" else "missed" end) |",
	"",
	"- Cold: before every run, all images of the submission are removed (both sides share its builder-stage cache); the base images and the shared `WORKDIR /app` layers on them stay. The submission’s module path is unique to the bench run, so no other build on the engine can lend it cached layers: `go build` runs every time.",
	"- Warm: the same source again, after one warm-up run; \($warm_cache).",
	"- Both sides keep their final image as build cache (grade’s default; the script’s `bench-bare` tag). Rounds alternate which command runs first, because other builds on this engine make the load drift; load average (1/5/15 min) per round: cold \($lc); warm \($lw).",
	"- Peak RSS: maximum resident set size from `/usr/bin/time -v`, one cold and one warm run.",
	"- grade’s own per-check durations in those two runs (`--format json`, checks ≥ 5 ms; image.build = build, image.no-toolchain = filesystem export, runtime.start = the wait for the container, which starts during the export, runtime.non-root = docker top): cold total \($gc[0].duration_ms) ms: \(checks($gc[0])); warm total \($gw[0].duration_ms) ms: \(checks($gw[0])).",
	"",
	"Where the time goes (per row, the median over the timed runs, in seconds; so the rows need not add up to the wall median). grade: from its JSON report (per-check duration_ms); the script: timestamps between its steps. “Everything else” is the wall time not in the rows above: for grade process start-up, connecting to the engine, parsing the Dockerfile, removing the container and writing the report; for the script the start of bash and the container removal (`docker port` and the poll count as start). grade starts its container in the background while the image checks read the exported filesystem, so for grade those two rows overlap: its start row is only the wait left after the export.",
	"",
	"| phase | grade cold | bare cold | grade warm | bare warm |",
	"|---|---:|---:|---:|---:|",
	( [$c.g.phases.median, $c.b.phases.median, $w.g.phases.median, $w.b.phases.median] as $m
	  | def cell($k): if . == null then "–" else (.[$k] | r2) end;
	    def cells($k): $m | map(cell($k)) | join(" | ");
	    "| build | \(cells("build")) |",
	    "| filesystem export (image checks) | \($m[0] | cell("export")) | – | \($m[2] | cell("export")) | – |",
	    "| container create, start, first answer | \(cells("start")) |",
	    "| probes (grade: + docker top for the UID) | \(cells("probes")) |",
	    "| everything else | \(cells("rest")) |",
	    "| **wall** | \(cells("wall")) |",
	    "| **wall minus build** | \(cells("nonbuild")) |",
	    "| grade / bare, wall minus build | \(if $m[0] and $m[1] then ($m[0].nonbuild / $m[1].nonbuild | r2) else "–" end) | | \(if $m[2] and $m[3] then ($m[2].nonbuild / $m[3].nonbuild | r2) else "–" end) | |" ),
	"",
	"## cold (hyperfine, all rounds)",
	"",
	"\($cold[0] | .rounds | length) round(s); per-round exports in `results-cold.json`.",
	""' >bench/results.md
{
	cat bench/results-cold.md
	printf '\n## warm (hyperfine, all rounds)\n\n'
	cat bench/results-warm.md
} >>bench/results.md

log "results: bench/results.md (raw: bench/results-{cold,warm}.{json,md})"
cat bench/results.md
echo
jq -n -r --slurpfile c bench/results-cold.json --slurpfile w bench/results-warm.json '
	def ratio($r): ($r.results | map({(.command | split(" ")[0]): .mean}) | add) | .grade / .["bare.sh"] * 1000 | round / 1000;
	"grade/bare cold: \(ratio($c[0])) (target ≤ 1.05)", "grade/bare warm: \(ratio($w[0])) (target ≤ 1.2)"'
