#!/usr/bin/env bash
# bench/images.sh STATE list|clean — the images (and containers) that
# `make bench` built for its submission, on a Docker Engine that other builds
# share at the same time.
#
#   list   print their ids, deepest first
#   clean  remove their containers, then the images, without force
#
# "Ours" is decided by content, never by time or by force:
#   - STATE/sigs holds the builder command (ContainerConfig.Cmd, as JSON) of
#     the submission's COPY steps. The bench gives the submission a unique
#     module path, so these COPY steps (go.mod+go.sum, the source, the built
#     binary) are unique to this bench run; every image at such a step, and
#     every descendant of one, is ours. That covers the untagged
#     builder-stage images, which carry no tag or label.
#   - STATE/tags holds the tags the bench gives (bench-bare, grade's tag for
#     the submission folder); their untagged ancestors that did not exist at
#     the start are ours too (a fallback, should a COPY step not match), up
#     to but not including the first layer on a tagged (base) image: that
#     `WORKDIR /app` layer is shared with every other build of the lab.
#   - STATE/s0 lists the images that existed before the bench started: never
#     removed, whatever the rules above say (base images, other builds'
#     shared WORKDIR layers). Neither is an image that carries a tag the bench
#     did not give.
# Removal is `docker rmi --no-prune`, deepest first, repeated while it makes
# progress: an image another build now uses as a parent stays.
set -euo pipefail

state=${1:?usage: bench/images.sh STATE list|clean}
action=${2:?usage: bench/images.sh STATE list|clean}

ours() {
	local ids all
	ids=$(docker images -a -q --no-trunc | sort -u)
	[ -n "$ids" ] || return 0
	# Images can vanish between the two calls (other builds clean up):
	# inspect still prints the rest.
	# shellcheck disable=SC2086
	all=$(docker image inspect $ids 2>/dev/null || true)
	[ -n "$all" ] || all='[]'
	jq -r \
		--rawfile sigs "$state/sigs" \
		--rawfile tags "$state/tags" \
		--rawfile s0 "$state/s0" '
		($sigs | split("\n") | map(select(. != ""))) as $sigs
		| ($tags | split("\n") | map(select(. != ""))) as $tags
		| ($s0 | split("\n") | map(select(. != "")) | map({(.): true}) | add // {}) as $old
		| (map({(.Id): .}) | add // {}) as $img
		| (reduce .[] as $i ({}; if ($i.Parent // "") != "" then .[$i.Parent] += [$i.Id] else . end)) as $kids
		| def foreign: (.RepoTags // []) | any(. as $t | $tags | index($t) | not);
		  def depth: if (.Parent // "") != "" and $img[.Parent] then 1 + ($img[.Parent] | depth) else 0 end;
		  def tagged: (.RepoTags // []) | length > 0;
		  def up: if (.Parent // "") != "" and $img[.Parent] and ($old[.Parent] | not)
		             and ($img[.Parent] | tagged | not)
		             and ($img[.Parent].Parent // "" | . != "" and $img[.] and ($img[.] | tagged | not))
		          then .Parent, ($img[.Parent] | up) else empty end;
		  def down: .Id, (($kids[.Id] // [])[] as $k | $img[$k] | down);
		[ ( .[] | select((.ContainerConfig.Cmd // []) | tojson | IN($sigs[])) | down ),
		  ( .[] | select((.RepoTags // []) | any(IN($tags[]))) | .Id, up ) ]
		| unique
		| map($img[.]) | map(select(. != null and ($old[.Id] | not) and (foreign | not)))
		| sort_by(-depth) | .[].Id
	' <<<"$all"
}

case $action in
list)
	ours
	;;
clean)
	mapfile -t mine < <(ours)
	((${#mine[@]})) || exit 0
	declare -A is_mine=()
	for id in "${mine[@]}"; do is_mine[$id]=1; done
	# Containers of these images (a run that was interrupted): force-removed,
	# they are ours. Everybody else's containers stay.
	while read -r cid img; do
		[ -n "${is_mine[$img]:-}" ] && docker rm -f "$cid" >/dev/null 2>&1 || true
	done < <(docker ps -a -q --no-trunc | xargs -r docker inspect -f '{{.Id}} {{.Image}}' 2>/dev/null || true)
	# Untag first (an image with two of our tags cannot be removed by id).
	while read -r tag; do
		[ -n "$tag" ] || continue
		id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || continue
		[ -n "${is_mine[$id]:-}" ] && docker rmi --no-prune "$tag" >/dev/null 2>&1 || true
	done <"$state/tags"
	left=("${mine[@]}")
	while ((${#left[@]})); do
		docker rmi --no-prune "${left[@]}" >/dev/null 2>&1 || true
		mapfile -t still < <(docker images -a -q --no-trunc | grep -Fx -f <(printf '%s\n' "${left[@]}") || true)
		((${#still[@]} < ${#left[@]})) || break # no progress: in use by another build
		left=("${still[@]}")
	done
	if ((${#left[@]})); then
		echo "bench: kept ${#left[@]} image(s) that other builds now use as cache: ${left[*]}" >&2
	fi
	;;
*)
	echo "usage: bench/images.sh STATE list|clean" >&2
	exit 2
	;;
esac
