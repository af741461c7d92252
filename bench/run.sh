#!/usr/bin/env bash
# run.sh — `make bench`: runs every benchmark scenario against the floor server,
# toggles-pushd and the Node.js relay in turn, on a throwaway PostgreSQL, over loopback
# only, and writes bench/results/ (raw.csv, latest.md, latency-fanout.png).
#
#   bench/run.sh                  the full run (under 20 minutes on 2 cores)
#   bench/run.sh --quick          small client counts and short phases (under 3 minutes)
#   bench/run.sh --only workers   only the workers scenarios (pushd --workers; 100,000
#                                 clients), merged into the last run's results
#   bench/run.sh --only main      every scenario but those
#
# Expects the extension installed and pushd built (the Makefile's `bench` target does
# both).  Every phase is bounded in count and time by the load generator.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
. "$top/scripts/lib.sh"

quick=false
only=
while (($#)); do
	case $1 in
		--quick) quick=true ;;
		--only)
			only=${2:-}
			shift
			;;
		--only=*) only=${1#--only=} ;;
		*)
			echo "usage: bench/run.sh [--quick] [--only main|workers]" >&2
			exit 2
			;;
	esac
	shift
done
case $only in
	'' | main | workers) ;;
	*)
		echo "bench: --only takes main or workers, not '$only'" >&2
		exit 2
		;;
esac
run_main=$([[ $only != workers ]] && echo true || echo false)
run_workers=$([[ $only != main ]] && echo true || echo false)
pg_port=${TOGGLES_BENCH_PG_PORT:-5497}
db=toggles_bench
mode=$($quick && echo quick || echo full)${only:+-$only}

"$top/scripts/deps.sh" bench
make -s -C "$bench"
(cd "$bench/peers/node-relay" && npm ci --silent --no-audit --no-fund)

# Each side holds ~19,000 sockets: every process started from here gets the hard limit.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 19100)); then
	echo "bench: the fd limit is $(ulimit -n); 19,000 clients need about 19,100" >&2
fi

if pg_can_reach "$top"; then
	rundir="$top/.run-bench"
else
	rundir=/var/tmp/pg_toggles-$(echo "$top" | md5sum | cut -c1-8)-bench
fi
work="$bench/work"
results="$bench/results"
mkdir -p "$work" "$results"
server_pid=

stop_server() {
	if [[ -n $server_pid ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		# pushd --workers: the parent exits after its workers have drained (at most 15 s).
		for _ in $(seq 1 200); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
stop() {
	stop_server
	as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$rundir"
}
[[ -d $rundir/pgdata ]] && stop
pg_owned_dir "$rundir"
trap stop EXIT
trap 'exit 130' INT TERM

echo "bench ($mode): throwaway cluster in $rundir"
as_pg "$PG_BINDIR/initdb" -D "$rundir/pgdata" -U postgres -A trust -E UTF8 --no-instructions \
	>"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
# fsync off: the cluster is thrown away, and the disk is shared with other work; commits
# still wait for their WAL write.  pg_stat_statements counts the statements of a storm.
as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -l "$rundir/postgres.log" -w -o "-p $pg_port \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories=$rundir -c fsync=off \
	-c max_connections=100 -c shared_preload_libraries=pg_stat_statements \
	-c pg_stat_statements.track=top" start >/dev/null ||
	{ cat "$rundir/postgres.log"; exit 1; }

psql_bench() { as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$rundir" -p "$pg_port" -U postgres "$@"; }
psql_bench -d postgres -c "CREATE DATABASE $db"
# 200 toggles: the snapshot every client gets on connect is about 30 KB.
psql_bench -d "$db" <<'SQL'
CREATE EXTENSION pg_toggles;
CREATE EXTENSION pg_stat_statements;
INSERT INTO toggles.features (name, is_active, description)
SELECT format('bench-%s', lpad(i::text, 3, '0')), i % 2 = 0,
       format('Benchmark toggle number %s, flipped by the load generator', i)
FROM generate_series(0, 199) AS i;
SQL
conninfo="host=$rundir port=$pg_port dbname=$db user=postgres"
# pushd requires a token: every load generator client presents one that sees everything
# (the other servers ignore the header).
token=$(psql_bench -d "$db" -A -t -c "SELECT toggles.create_token('bench', '{*}')")
# pushd's security limits are sized for production; the bench holds 19,000 clients from
# 127.0.0.2-9 and flips up to 200/s, so the connection caps are lifted and notifications
# are not held back by the catch-up rate (each one reads the log, as the Node peer does).
pushd_args=(--db "$conninfo" --log-level warn --max-connections 20000 --max-connections-per-ip 0
	--max-catchups-per-second 1000)
# pushd --workers N (the workers scenarios): the same, with room for 100,000 clients in the
# service; each worker still holds at most 20,000 descriptors (the hard limit).
pushd_workers_args=(--db "$conninfo" --log-level warn --max-connections 110000
	--max-connections-per-ip 0 --max-catchups-per-second 1000)

raw="$work/raw.csv"
: >"$raw"

wait_port() {
	local port=$1
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_server NAME: starts one server in the background; sets server_pid and port.
start_server() {
	local name=$1
	case $name in
		floor | workers-floor)
			port=8095
			"$bench/peers/floor/floor" --port $port --db "$conninfo" >"$work/$name.log" 2>&1 &
			;;
		pushd)
			port=8096
			"$top/pushd/toggles-pushd" "${pushd_args[@]}" --listen "127.0.0.1:$port" --node bench \
				>"$work/$name.log" 2>&1 &
			;;
		pushd-untracked)
			port=8097
			"$top/pushd/toggles-pushd" "${pushd_args[@]}" --listen "127.0.0.1:$port" \
				--node bench-untracked --no-track-connections >"$work/$name.log" 2>&1 &
			;;
		pushd-w*)
			port=8099
			"$top/pushd/toggles-pushd" "${pushd_workers_args[@]}" --workers "${name#pushd-w}" \
				--listen "127.0.0.1:$port" --node "bench-${name#pushd-}" >"$work/$name.log" 2>&1 &
			;;
		node)
			port=8098
			PORT=$port PGHOST=$rundir PGPORT=$pg_port PGDATABASE=$db PGUSER=postgres \
				node "$bench/peers/node-relay/relay.js" >"$work/$name.log" 2>&1 &
			;;
	esac
	server_pid=$!
	if ! wait_port $port; then
		cat "$work/$name.log"
		echo "bench: $name did not start" >&2
		exit 1
	fi
	if [[ $name == pushd* ]]; then
		# 200 once every worker's database link is up, and so every worker accepting: the
		# kernel spreads connections only over the listening sockets that exist.
		for _ in $(seq 1 300); do
			curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
			sleep 0.1
		done
	fi
	sleep 0.5
}

# loadgen NAME SCENARIO ARGS...: one scenario in a fresh load generator process.
loadgen() {
	local name=$1
	shift
	echo "bench: $name: $*"
	"$bench/loadgen/loadgen" --port "$port" --db "$conninfo" --pid "$server_pid" --label "$name" \
		--token "$token" "$@" >>"$raw" 2>>"$work/loadgen.log" || echo "bench: $name: loadgen failed ($*)" >&2
	# Let the server take in the closes before the next phase.
	sleep 2
}

if $quick; then
	lat_flips=100 lat_many=200 steps=500,2000 repeat=5 storms="1000 2000" storm_conc=500
	tp_clients=200 tp_rates=50,200 tp_secs=5 cr_clients=1000 tg_clients=200 tg_repeat=4
	w_steps=500,2000 w_many=4000 w_procs=2 w_idle=5
else
	lat_flips=300 lat_many=1000 steps=1000,5000,10000,19000 repeat=20 storms="9500 19000"
	storm_conc=2000 tp_clients=1000 tp_rates=25,50,100,200 tp_secs=30 cr_clients=5000 tg_clients=1000 tg_repeat=10
	w_steps=10000,19000 w_many=100000 w_procs=7 w_idle=60
fi
# Workers for w_many clients: each worker may hold 20,000 descriptors (the hard limit), and
# SO_REUSEPORT spreads connections by a hash, so evenly but not exactly (±1 % at 100,000).
# Seven workers hold ~14,300 each; should one stop accepting (its database link lost) or be
# restarted, its clients come back to the other six: ~16,700 each, still under the limit.
# Six would hold 16,700 each and 20,000 after losing one.
w_workers=7

: >"$work/loadgen.log"
# A part's rows carry the time it ran (--only merges one part into the last run's results).
if $run_main; then
	echo "run,main,0,epoch_s,$(date +%s)" >>"$raw"
	echo "run,main,0,quick,$($quick && echo 1 || echo 0)" >>"$raw"
	# Each scenario meets the three servers one after the other, each started fresh (so the
	# fan-out's "0 clients" RSS is that of a fresh server): the ratios compare servers
	# measured within a minute of each other.  One server's whole series at a time left ten
	# minutes between the floor's figures and pushd's, and this shared machine drifts by
	# more than the targets' margins in that time (the floor's fan-out to 10,000 took 46 ms
	# at the start of a run, 66 ms ten minutes later).
	each_server() {
		for name in floor pushd node; do
			start_server $name
			loadgen $name "$@"
			stop_server
		done
	}
	each_server fanout --steps $steps --repeat $repeat
	each_server latency --clients 1 --flips $lat_flips --rate 50
	each_server latency --clients $lat_many --flips $lat_flips --rate 50
	for storm in $storms; do
		each_server storm --clients $storm --concurrency $storm_conc
	done
	each_server throughput --clients $tp_clients --rates $tp_rates --duration $tp_secs --sample 20
	each_server connrate --clients $cr_clients --concurrency 200
	start_server pushd-untracked
	loadgen pushd-untracked connrate --clients $cr_clients --concurrency 200
	stop_server

	# 7. Targeting: clients with distinct contexts, a rule change and a time window (pushd only).
	start_server pushd
	echo "bench: pushd: targeting --clients $tg_clients --repeat $tg_repeat"
	PGHOST=$rundir PGPORT=$pg_port PGDATABASE=$db PGUSER=postgres \
		node "$bench/targeting.js" --port "$port" --token "$token" --clients $tg_clients \
		--repeat $tg_repeat >>"$raw" 2>>"$work/loadgen.log" || echo "bench: pushd: targeting failed" >&2
	stop_server
fi

# 8. Workers (pushd --workers): fan-out and CPU per message with one and with two workers
# beside the floor, each from a fresh server; then w_many clients over w_workers workers,
# held by w_procs load generator processes, idle for w_idle s, then the flips.
if $run_workers; then
	echo "run,workers,0,epoch_s,$(date +%s)" >>"$raw"
	echo "run,workers,0,quick,$($quick && echo 1 || echo 0)" >>"$raw"
	for name in workers-floor pushd-w1 pushd-w2; do
		start_server $name
		loadgen $name fanout --steps $w_steps --repeat $repeat
		stop_server
	done
	start_server pushd-w$w_workers
	loadgen pushd-w$w_workers fanout --steps $w_many --repeat $repeat --idle $w_idle \
		--procs $w_procs --concurrency 2000
	stop_server
fi

# --only: the other part's rows come from the last run's results.
if [[ -n $only && -f $results/raw.csv ]]; then
	awk -F, -v only="$only" '{
		workers = $1 == "workers-floor" || $1 ~ /^pushd-w[0-9]+$/ || ($1 == "run" && $2 == "workers")
		if ((only == "workers") != workers) print
	}' "$results/raw.csv" >"$work/kept.csv"
	cat "$work/kept.csv" "$raw" >"$work/merged.csv"
	mv "$work/merged.csv" "$raw"
fi
cp "$raw" "$results/raw.csv"
node "$bench/report.js" "$results/raw.csv" "$results" "$mode"
gnuplot -e "datadir='$results'" "$bench/plot.gp"
# The history: every run's table and figures under its date; latest.md is the newest.
stamp=$(date -u +%Y-%m-%d-%H%M)
mkdir -p "$results/history"
cp "$results/latest.md" "$results/history/$stamp-$mode.md"
cp "$results/raw.csv" "$results/history/$stamp-$mode.csv"
echo "bench: results in bench/results/latest.md (and history/$stamp-$mode.md), bench/results/latency-fanout.png"
