#!/usr/bin/env bash
# coverage.sh — line coverage (gcov) of toggles-pushd's middle by the C unit tests alone
# (`make coverage`): builds the unit tests that link it with --coverage in a temporary
# directory, runs them, and prints one line per source: "TEST pushd/X.c: P% of N lines".
# A source no unit test links is named as such (its coverage by unit tests is 0).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PG_CONFIG=${PG_CONFIG:-$(ls /usr/lib/postgresql/15/bin/pg_config 2>/dev/null || echo pg_config)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cflags="-std=c11 -D_GNU_SOURCE -g -O0 --coverage -Ipushd -Icommon -I$($PG_CONFIG --includedir) \
	$(pkg-config --cflags libwebsockets libcjson)"
libs="$(pkg-config --libs libwebsockets libcjson) -lcmocka"
middle="pushd/groups.c pushd/stream.c pushd/sync.c pushd/pglink.c pushd/cache.c pushd/toggle.c pushd/encode.c"

# the unit tests and what they link (as the Makefile builds them)
declare -A tests=(
	[test_groups]="pushd/groups.c pushd/cache.c pushd/toggle.c pushd/encode.c pushd/message.c pushd/context.c pushd/scope.c pushd/log.c pushd/config.c pushd/acl.c"
	[test_cache]="pushd/cache.c pushd/toggle.c pushd/encode.c pushd/message.c pushd/context.c"
)

linked=" "
for t in "${!tests[@]}"; do
	mkdir -p "$out/$t"
	# shellcheck disable=SC2086
	(cd "$out/$t" && gcc $cflags -I"$top/pushd" -I"$top/common" -o run "$top/tests/unit/$t.c" \
		$(for s in ${tests[$t]} common/*.c; do echo "$top/$s"; done) $libs)
	(cd "$out/$t" && ./run > /dev/null 2>&1) || echo "coverage.sh: $t failed" >&2
	for s in ${tests[$t]}; do
		[[ " $middle " == *" $s "* ]] || continue
		linked+="$s "
		gcda=$(ls "$out/$t"/run-"$(basename "$s" .c)".gcda)
		(cd "$out/$t" && gcov -n "$gcda" 2>/dev/null) |
			awk -v t="$t" -v s="$s" '
				$0 ~ "^File .*" s "'"'"'$" { hit = 1; next }
				hit && /^Lines executed:/ { sub(/^Lines executed:/, ""); print t " " s ": " $0; hit = 0 }'
	done
done | sort
for s in $middle; do
	grep -q "$s" <<< "$(for t in "${!tests[@]}"; do echo "${tests[$t]}"; done)" ||
		echo "(none) $s: linked by no unit test"
done
