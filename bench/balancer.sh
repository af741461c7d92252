#!/usr/bin/env bash
# balancer.sh — capacity through HAProxy (docs/deploy.md, "Capacity"): three toggles-pushd
# nodes behind deploy/haproxy.cfg on this machine, fan-out at 1,000 / 5,000 / 9,500 clients
# through the balancer, beside one node alone at the same sizes, in the same run.  Writes
# bench/results/balancer.md.  As root (the file limit is raised for HAProxy); loopback only,
# bounded in clients and flips.  `make bench` need not have run; it builds loadgen.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
. "$top/scripts/lib.sh"

steps=${BALANCER_STEPS:-1000,5000,9500}
repeat=${BALANCER_REPEAT:-10}
pg_port=5496
db=toggles_lb
work="$bench/work/balancer"
results="$bench/results"
mkdir -p "$work" "$results"
make -s -C "$bench" loadgen/loadgen
ulimit -n "$(ulimit -Hn)"

if pg_can_reach "$top"; then rundir="$top/.run-balancer"; else rundir=/var/tmp/pg_toggles-balancer; fi
pids=()
stop() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$rundir"
}
[[ -d $rundir/pgdata ]] && stop
pg_owned_dir "$rundir"
trap stop EXIT
trap 'exit 130' INT TERM

as_pg "$PG_BINDIR/initdb" -D "$rundir/pgdata" -U postgres -A trust --no-instructions >"$work/initdb.log"
as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -l "$rundir/postgres.log" -w -o "-p $pg_port \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories=$rundir -c fsync=off" start >/dev/null
psql_lb() { as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$rundir" -p "$pg_port" -U postgres "$@"; }
psql_lb -d postgres -c "CREATE DATABASE $db"
psql_lb -d "$db" <<'SQL'
CREATE EXTENSION pg_toggles;
INSERT INTO toggles.features (name, is_active, description)
SELECT format('bench-%s', lpad(i::text, 3, '0')), i % 2 = 0,
       format('Benchmark toggle number %s, flipped by the load generator', i)
FROM generate_series(0, 199) AS i;
SQL
conninfo="host=127.0.0.1 port=$pg_port dbname=$db user=postgres"

# node PORT NAME: a pushd as a node behind the balancer would run (docs/deploy.md).
node() {
	"$top/pushd/toggles-pushd" --db "$conninfo" --listen "127.0.0.1:$1" --node "$2" --allow-anonymous \
		--log-level warn --max-connections 20000 --max-connections-per-ip 0 \
		--trusted-proxies 127.0.0.1/32 --max-catchups-per-second 1000 >"$work/$2.log" 2>&1 &
	pids+=($!)
}
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "balancer: nothing on port $1" >&2
	return 1
}
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

raw="$work/raw.csv"
: >"$raw"
# run LABEL PORT PID...: the fan-out steps against PORT; the CPU of the PIDs over the run.
run() {
	local label=$1 port=$2
	shift 2
	local before=() i=0
	for p in "$@"; do before+=("$(cpu_ns "$p")"); done
	echo "balancer: $label: fanout --steps $steps --repeat $repeat"
	"$bench/loadgen/loadgen" --port "$port" --db "host=$rundir port=$pg_port dbname=$db user=postgres" \
		--pid "$1" --label "$label" fanout --steps "$steps" --repeat "$repeat" >>"$raw" 2>>"$work/loadgen.log"
	for p in "$@"; do
		echo "$label,cpu,0,cpu_s_pid_$p,$(( ($(cpu_ns "$p") - before[i]) / 1000000 ))" >>"$raw"
		i=$((i + 1))
	done
	sleep 2
}

# One node alone.
node 8201 alone
wait_port 8201
run alone 8201 "${pids[-1]}"
kill -TERM "${pids[-1]}"; sleep 1

# Three nodes behind HAProxy running deploy/haproxy.cfg as shipped.
node 8211 node1; node 8212 node2; node 8213 node3
for p in 8211 8212 8213; do wait_port $p; done
TOGGLES_LISTEN=127.0.0.1:8210 TOGGLES_STATS=127.0.0.1:8209 TOGGLES_NODE1=127.0.0.1:8211 \
	TOGGLES_NODE2=127.0.0.1:8212 TOGGLES_NODE3=127.0.0.1:8213 \
	haproxy -db -f "$top/deploy/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
haproxy_pid=$!
wait_port 8210
sleep 3    # every node UP (two checks a second apart)
run balanced 8210 "$haproxy_pid" "${pids[@]:1:3}"

{
	echo "# Capacity through HAProxy ($(date -u +%Y-%m-%d), $(nproc) cores, bench/balancer.sh)"
	echo
	echo "Fan-out: from COMMIT until the last client has the change ($repeat flips per size)."
	echo "One pushd alone, then three pushd nodes behind HAProxy running deploy/haproxy.cfg;"
	echo "load generator, servers, HAProxy and PostgreSQL on this one machine, loopback only."
	echo
	echo "| clients | alone p50 / p99 ms | balanced p50 / p99 ms | pushd CPU µs/msg (alone) | HAProxy CPU µs/msg | HAProxy bytes/client | connect all s (alone / balanced) | lost |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	fig() { awk -F, -v l="$1" -v c="$2" -v m="$3" '$1==l && $3==c && $4==m { printf "%.4g", $5 }' "$raw"; }
	for c in ${steps//,/ }; do
		echo "| $c | $(fig alone $c fanout_p50_ms) / $(fig alone $c fanout_p99_ms)" \
			"| $(fig balanced $c fanout_p50_ms) / $(fig balanced $c fanout_p99_ms)" \
			"| $(fig alone $c cpu_us_per_msg) | $(fig balanced $c cpu_us_per_msg)" \
			"| $(fig balanced $c bytes_per_conn) | $(fig alone $c connect_s) / $(fig balanced $c connect_s)" \
			"| $(( $(fig alone $c lost) + $(fig balanced $c lost) )) |"
	done
	echo
	echo "CPU of each process over its whole run, ms:" \
		"$(awk -F, '$2=="cpu" { printf "%s %s; ", $1, $5 }' "$raw")" \
		"(alone: the node; balanced: HAProxy, then the three nodes)."
	echo
	echo "Raw figures: bench/work/balancer/raw.csv (not kept)."
} >"$results/balancer.md"
cat "$results/balancer.md"
