#!/usr/bin/env bash
# test.sh — runs every test suite (C unit tests, fuzz replays, pg_regress, isolation,
# TAP) and ends with one line "N passed, N failed" over all of them.  Exits non-zero on
# any failure, including a suite that ran no test.  Called by `make test` after build
# and install.
#
# PostgreSQL refuses to run as root, and the checkout may sit where the postgres user
# cannot read (/root), so the suites run from a copy of tests/ in a directory that user
# owns.  It is removed when everything passed and kept (path printed) when not.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

work=$(mktemp -d /tmp/pg_toggles-test.XXXXXX)
cp -r "$top/tests" "$work/tests"
cp "$top/META.json" "$top/pg_toggles.control" "$work/"
# The balancer tests run deploy/haproxy.cfg as shipped.
cp -r "$top/deploy" "$work/deploy"
# The JavaScript tests (tests/js, run by TAP 060 and 061) import the client from clients/js.
cp -r "$top/clients" "$work/clients"
# TAP 062 runs the examples of docs/openfeature.md as they are written there.
cp -r "$top/docs" "$work/docs"
mkdir -p "$work/bin" && cp "$top/pushd/toggles-pushd" "$work/bin/"
# The sanitized daemon, when built: the hostile-input tests run it (TOGGLES_PUSHD_ASAN).
pushd_asan=
if [[ -x $top/pushd/toggles-pushd-asan ]]; then
	cp "$top/pushd/toggles-pushd-asan" "$work/bin/"
	pushd_asan="$work/bin/toggles-pushd-asan"
fi
[[ $(id -u) -eq 0 ]] && chown -R "$PG_USER" "$work"

total_passed=0
total_failed=0
summary=()

# record SUITE PASSED FAILED: a suite that ran nothing counts as one failure.
record() {
	local suite=$1 passed=$2 failed=$3
	if (( passed + failed == 0 )); then
		echo "!! suite $suite ran no test"
		failed=1
	fi
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	summary+=("$(printf '  %-10s %4d passed %4d failed' "$suite" "$passed" "$failed")")
}

# pg_regress_counts LOG: "passed failed" from pg_regress's closing line.
pg_regress_counts() {
	local all failed
	all=$(sed -n 's/^ *All \([0-9]*\) tests passed.*/\1/p' "$1")
	if [[ -n $all ]]; then
		echo "$all 0"
		return
	fi
	read -r failed all < <(sed -n 's/^ *\([0-9]*\) of \([0-9]*\) tests failed.*/\1 \2/p' "$1")
	echo "$(( ${all:-0} - ${failed:-0} )) ${failed:-0}"
}

# run_layers: scripts/check-layers.sh (no include against the direction of the daemon's
# layers, docs/development.md "Layers") and its self-test (an added forbidden include is
# caught); each rule counts once in each.
run_layers() {
	local out p f passed=0 failed=0 mode
	for mode in "" --self-test; do
		echo "== layers${mode:+ $mode}"
		out=$("$top/scripts/check-layers.sh" $mode 2>&1)
		echo "$out"
		read -r p f < <(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-1}))
	done
	record layers "$passed" "$failed"
}

run_unit() {
	local passed=0 failed=0 t out p f
	for t in "$top"/tests/unit/test_*; do
		[[ -x $t && ! -d $t ]] || continue
		echo "== unit: $(basename "$t")"
		out=$("$t" 2>&1)
		echo "$out"
		read -r p f < <(echo "$out" | grep -o '[0-9]* passed, [0-9]* failed' | tail -n 1 | sed 's/ passed, / /; s/ failed//')
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-1}))
	done
	record unit "$passed" "$failed"
}

# run_fuzz: each fuzz target's replay binary (make fuzz-replay) over its seeds and
# regressions, tests/fuzz/NAME/; passed counts inputs, failed counts targets that crashed.
run_fuzz() {
	local passed=0 failed=0 t name out n
	for t in "$top"/tests/fuzz/bin/replay_*; do
		[[ -x $t ]] || continue
		name=${t##*/replay_}
		if out=$("$t" "$top/tests/fuzz/$name" 2>&1); then
			n=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' <<< "$out" | tail -n 1)
			echo "== fuzz: $name, ${n:-0} inputs replayed"
			passed=$((passed + ${n:-0}))
		else
			echo "== fuzz: $name CRASHED"
			tail -n 40 <<< "$out"
			failed=$((failed + 1))
		fi
	done
	record fuzz "$passed" "$failed"
}

# run_pg_regress SUITE DRIVER ARGS...: pg_regress or pg_isolation_regress on its own
# temporary instance, with the shared server settings; prints diffs of what failed.
run_pg_regress() {
	local suite=$1 driver=$2 log="$work/$1.log"
	shift 2
	echo "== $suite"
	(cd "$work" && as_pg "$driver" \
		--temp-instance="$work/$suite-instance" \
		--temp-config="$work/tests/test.conf" \
		--bindir="$PG_BINDIR" \
		--inputdir="$work/tests" --outputdir="$work/$suite" \
		"$@") > "$log" 2>&1
	cat "$log"
	[[ -f $work/$suite/regression.diffs ]] && cat "$work/$suite/regression.diffs"
	record "$suite" $(pg_regress_counts "$log")
}

run_regress() {
	run_pg_regress regress "$PG_REGRESS" --schedule="$work/tests/regress_schedule"
}

run_isolation() {
	run_pg_regress isolation "$PG_ISOLATION_REGRESS" \
		$(cd "$work/tests/specs" && ls *.spec | sed 's/\.spec$//')
}

# js_deps: ws and playwright-core for the JavaScript tests, exactly as
# tests/js/package-lock.json says, installed as this user (root) before the TAP tests run
# as $PG_USER; a failure here is a failed suite, not a silent skip of those tests.
js_deps() {
	echo "== npm ci (tests/js)"
	if ! command -v npm >/dev/null ||
		! (cd "$work/tests/js" && npm ci --no-audit --no-fund --loglevel=error); then
		echo "!! npm ci in tests/js failed: the JavaScript tests cannot run"
		record js-deps 0 1
	fi
}

run_tap() {
	local log="$work/tap.log" tests failed
	js_deps
	echo "== TAP"
	pg_owned_dir "$work/tap"
	(cd "$work/tests" && as_pg env \
		PATH="$PG_BINDIR:$PATH" \
		TOGGLES_CONSOLE_SHOT="${TOGGLES_CONSOLE_SHOT:+$work/console.png}" \
		PERL5LIB="$PG_TAP_PERL" \
		TESTDIR="$work/tap" \
		PG_REGRESS="$PG_REGRESS" \
		TOGGLES_TOOLS="$work/tests/tools" \
		TOGGLES_TOP="$work" \
		TOGGLES_PUSHD="$work/bin/toggles-pushd" \
		TOGGLES_PUSHD_ASAN="$pushd_asan" \
		TOGGLES_NETLAB_CTL="$netlab_ctl" \
		CHAOS_SEED="${CHAOS_SEED:-}" CHAOS_SECONDS="${CHAOS_SECONDS:-}" \
		prove --timer ${TOGGLES_TAP_TESTS:-t/*.pl}) > "$log" 2>&1 9>&-
	cat "$log"
	tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log")
	# Per failed file: "t/x.pl (Wstat: W Tests: T Failed: F)"; a file that died with no
	# failed assertion still counts as one failure.
	failed=$(sed -n 's/.*(Wstat: .* Tests: [0-9]* Failed: \([0-9]*\)).*/\1/p' "$log" |
		awk '{ n += ($1 > 0 ? $1 : 1) } END { print n + 0 }')
	record tap "$(( ${tests:-0} - failed > 0 ? ${tests:-0} - failed : 0 ))" "$failed"
	# TOGGLES_CONSOLE_SHOT=FILE: the console screenshot of tests/t/061, for docs/console.png.
	if [[ -n ${TOGGLES_CONSOLE_SHOT:-} ]]; then
		cp "$work/console.png" "$TOGGLES_CONSOLE_SHOT" && echo "== console screenshot: $TOGGLES_CONSOLE_SHOT" ||
			echo "!! no console screenshot (did t/061_console_browser.pl run?)"
	fi
}

# The network lab (scripts/netlab.sh, docs/development.md): separate hosts as network
# namespaces, and netlab_ctl installed setuid root so that the TAP tests (run as
# $PG_USER) can start clusters there and cut links.  Only root can build it; anybody else
# runs the TAP tests without it, and the tests that need it skip, saying why.  The lab's
# names and addresses are fixed, so two runs on one machine take turns: a lock is held
# from lab_up to lab_down (on fd 9, which no test process inherits).
netlab_ctl=
lab_up() {
	[[ $(id -u) -eq 0 ]] || return 0
	exec 9> /run/pg_toggles-netlab.lock
	if ! flock -n 9; then
		echo "== waiting (up to 30 min) for another test run's network lab"
		flock -w 1800 9 || { echo "!! network lab still in use"; record netlab 0 1; return; }
	fi
	trap lab_down EXIT
	trap 'exit 130' INT TERM
	if "$top/scripts/netlab.sh" up && [[ -x $top/tests/tools/netlab_ctl ]]; then
		# After the chown of $work: the helper must stay root's.
		install -o root -g root -m 4755 "$top/tests/tools/netlab_ctl" "$work/bin/netlab_ctl"
		netlab_ctl="$work/bin/netlab_ctl"
	else
		echo "!! network lab not set up (is tests/tools/netlab_ctl built? make test-tools)"
		record netlab 0 1
	fi
}

lab_down() {
	[[ $(id -u) -eq 0 ]] || return 0
	"$top/scripts/netlab.sh" down
	exec 9>&-
	trap - EXIT
}

run_make_run() {
	echo "== make run (unattended)"
	if "$top/scripts/run.sh" --check; then
		record run 1 0
	else
		record run 0 1
	fi
}

# run_package: scripts/package-test.sh (as root): make dist, make deb, lintian, and in a
# fresh Debian 12 root the packages installed, upgraded from the previous release,
# started, removed and purged.  Adds about four minutes (docs/development.md).
run_package() {
	local log="$work/package.log" p f
	echo "== package"
	"$top/scripts/package-test.sh" "$work/package" > "$log" 2>&1
	cat "$log"
	read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
	record package "${p:-0}" "${f:-1}"
}

# TOGGLES_SUITES: which suites run (default all); `make chaos` runs only tap.
suites=" ${TOGGLES_SUITES:-layers unit fuzz run regress isolation package tap} "
wanted() { [[ $suites == *" $1 "* ]]; }

wanted layers && run_layers
wanted unit && run_unit
wanted fuzz && run_fuzz
wanted run && run_make_run
wanted regress && run_regress
wanted isolation && run_isolation
wanted package && run_package
if wanted tap; then
	lab_up
	run_tap
	lab_down
fi

echo
echo "Suites:"
printf '%s\n' "${summary[@]}"
if (( total_failed == 0 )); then
	rm -rf "$work"
else
	echo "Test outputs kept in $work"
fi
echo "$total_passed passed, $total_failed failed"
(( total_failed == 0 ))
