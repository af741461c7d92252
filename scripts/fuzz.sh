#!/usr/bin/env bash
# fuzz.sh — runs each named fuzz target (tests/fuzz/bin/fuzz_NAME, built by `make fuzz`)
# for FUZZ_SECONDS, one after the other, on a copy of its corpus tests/fuzz/NAME/, so the
# committed corpus never grows by itself.  Crashing inputs are left in the work directory
# (path printed); a fixed crasher goes into tests/fuzz/NAME/regressions/ by hand.
# Ends with one line per target (coverage, executions per second) and exits non-zero when
# any target found a crash.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
max_len=${FUZZ_MAX_LEN:-4096}
work=$(mktemp -d /tmp/pg_toggles-fuzz.XXXXXX)
failed=0
summary=()

for name in "$@"; do
	bin="$top/tests/fuzz/bin/fuzz_$name"
	log="$work/$name.log"
	dict=()
	[[ -f $top/tests/fuzz/$name.dict ]] && dict=(-dict="$top/tests/fuzz/$name.dict")
	mkdir -p "$work/$name/corpus" "$work/$name/crashes"
	cp -r "$top/tests/fuzz/$name/." "$work/$name/corpus/"
	echo "== fuzz: $name, ${seconds} s (log: $log)"
	"$bin" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$work/$name/crashes/" "${dict[@]}" \
		"$work/$name/corpus" > "$log" 2>&1
	status=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if (( status != 0 )); then
		failed=$((failed + 1))
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
		summary+=("$(printf '  %-10s CRASH: see %s/%s/crashes/' "$name" "$work" "$name")")
	else
		rm -rf "$work/$name/corpus"
		summary+=("$(printf '  %-10s cov %5s  %10s runs  %7s exec/s' "$name" "${cov:-?}" \
			"${execs:-?}" "${rate:-?}")")
	fi
done

echo
echo "Fuzzing, ${seconds} s per target:"
printf '%s\n' "${summary[@]}"
if (( failed == 0 )); then
	rm -rf "$work"
else
	echo "Crashing inputs kept in $work"
fi
(( failed == 0 ))
