#!/usr/bin/env bash
# check-layers.sh — keeps toggles-pushd's data flowing one way (docs/development.md,
# "Layers"): fails when a file includes a header of a layer it must not know.  Each rule
# is checked on the direct #include lines of the files it names; the last line is
# "N passed, N failed" (one per rule), which scripts/test.sh adds up as the suite layers.
#
#   scripts/check-layers.sh [DIR]     check DIR (default: pushd/ of this checkout)
#   scripts/check-layers.sh --self-test
#                                     check that a forbidden include is caught: a copy of
#                                     pushd/*.[ch] with one added to each rule's first file
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# rule: NAME|FILES (globs, relative to DIR)|HEADERS they must not include
rules=(
	"the database link knows no module that uses it|pglink.[ch] db_targets.[ch]|sync.h stream.h registry.h groups.h clients.h schedule.h cache.h sse.h http.h ofrep.h outage.h"
	"sync turns rows into the sequencer's calls, and reaches nothing past it|sync.[ch]|groups.h clients.h schedule.h cache.h registry.h sse.h http.h ofrep.h outage.h"
	"the schedule tells the sequencer through a hook|schedule.[ch]|stream.h groups.h clients.h sse.h http.h ofrep.h sync.h pglink.h"
	"the evaluation layer knows no client and no source of changes|groups.[ch] cache.[ch] toggle.[ch] encode.[ch] context.[ch] message.[ch]|clients.h sse.h http.h ofrep.h registry.h conn_limits.h sync.h pglink.h stream.h schedule.h"
	"the sequencer is above the link: it knows no rows and no link|stream.[ch]|sync.h pglink.h registry.h"
)

# check DIR: prints one line per violation and the summary; exit 1 on any.
check() {
	local dir=$1 passed=0 failed=0 rule name files headers f h bad included
	for rule in "${rules[@]}"; do
		IFS='|' read -r name files headers <<< "$rule"
		bad=0
		for f in $(cd "$dir" && eval "ls $files" 2>/dev/null); do
			included=" $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$dir/$f" | tr '\n' ' ')"
			for h in $headers; do
				if [[ $included == *" $h "* ]]; then
					echo "layers: $f includes $h: $name"
					bad=1
				fi
			done
		done
		if (( bad )); then failed=$((failed + 1)); else passed=$((passed + 1)); fi
	done
	echo "$passed passed, $failed failed"
	(( failed == 0 ))
}

self_test() {
	local tmp rule name files headers first h caught=0 total=0
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	for rule in "${rules[@]}"; do
		IFS='|' read -r name files headers <<< "$rule"
		rm -rf "$tmp/pushd" && mkdir "$tmp/pushd" && cp "$top"/pushd/*.[ch] "$tmp/pushd/"
		first=$(cd "$tmp/pushd" && eval "ls $files" | grep '\.c$' | head -n 1)
		h=${headers%% *}
		sed -i "0,/^#include \"/s//#include \"$h\"\n&/" "$tmp/pushd/$first"
		total=$((total + 1))
		if ! check "$tmp/pushd" > /dev/null; then
			caught=$((caught + 1))
		else
			echo "layers self-test: $first including $h was not caught"
		fi
	done
	echo "$caught passed, $((total - caught)) failed"
	(( caught == total ))
}

case ${1:-} in
	--self-test) self_test ;;
	"") check "$top/pushd" ;;
	*) check "$1" ;;
esac
