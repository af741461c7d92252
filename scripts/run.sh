#!/usr/bin/env bash
# run.sh — `make run`: a throwaway PostgreSQL 15 with pg_toggles and a few example
# toggles, in .run/ under the checkout, and toggles-pushd on ws://127.0.0.1:8080, until
# Ctrl-C; then both are stopped and the cluster is removed.
#
#   scripts/run.sh           run until interrupted
#   scripts/run.sh --check   start, walk through the README tour unattended, stop
#                            (used by `make test`)
#
# The server runs as an unprivileged user.  When that user cannot enter the checkout
# (a clone under /root), the cluster lives in /var/tmp and .run links to it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

check=false
[[ ${1:-} == --check ]] && check=true
port=${TOGGLES_PG_PORT:-$($check && echo 5498 || echo 5499)}
ws_port=${TOGGLES_WS_PORT:-$($check && echo 8079 || echo 8080)}
db=toggles
pushd_pid=

if pg_can_reach "$top"; then
	rundir="$top/.run"
	$check && rundir="$top/.run-check"
else
	rundir=/var/tmp/pg_toggles-$(echo "$top" | md5sum | cut -c1-8)$($check && echo -check || true)
fi
link="$top/.run"
$check && link="$top/.run-check"

stop() {
	if [[ -n $pushd_pid ]]; then
		kill -TERM "$pushd_pid" 2>/dev/null && wait "$pushd_pid" 2>/dev/null
		pushd_pid=
	fi
	as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$rundir"
	[[ -L $link ]] && rm -f "$link"
	return 0
}

# A previous run that was killed may have left its cluster running.
[[ -d $rundir/pgdata ]] && stop
pg_owned_dir "$rundir"
[[ $rundir != "$link" ]] && ln -sfn "$rundir" "$link"
trap stop EXIT
trap 'exit 130' INT TERM

echo "run: creating a throwaway cluster in $rundir/pgdata"
as_pg "$PG_BINDIR/initdb" -D "$rundir/pgdata" -U postgres -A trust -E UTF8 --no-instructions >"$rundir/initdb.log" 2>&1 ||
	{ cat "$rundir/initdb.log"; exit 1; }
as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" -l "$rundir/postgres.log" -w \
	-o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$rundir" start >/dev/null ||
	{ cat "$rundir/postgres.log"; exit 1; }

psql_run() { as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$rundir" -p "$port" -U postgres "$@"; }

psql_run -d postgres -c "CREATE DATABASE $db"
psql_run -d "$db" <<'SQL'
CREATE EXTENSION pg_toggles;
INSERT INTO toggles.features (name, is_active, description) VALUES
    ('dark-mode', false, 'Dark colour scheme for the web app'),
    ('new-checkout', true, 'The redesigned checkout flow'),
    ('beta-banner', false, 'Banner inviting users to the beta');
SQL

# toggles-pushd, as this user, against the throwaway cluster, over TCP as a deployment
# reaches its database.  --allow-anonymous: this is a loopback-only playground; a real
# deployment gives clients tokens (docs/security.md).
"$top/pushd/toggles-pushd" --db "host=127.0.0.1 port=$port dbname=$db user=postgres" \
	--listen "127.0.0.1:$ws_port" --node "make-run:$ws_port" --allow-anonymous \
	>"$rundir/pushd.log" 2>&1 &
pushd_pid=$!
for _ in $(seq 1 50); do
	curl -sf "http://127.0.0.1:$ws_port/healthz" >/dev/null 2>&1 && break
	kill -0 "$pushd_pid" 2>/dev/null || { cat "$rundir/pushd.log"; exit 1; }
	sleep 0.2
done

if $check; then
	# The README tour, unattended: LISTEN, flip, see the payload, and pushd's state.
	out=$(psql_run -d "$db" <<'SQL'
LISTEN toggles;
UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode';
SELECT 1;
SQL
)
	echo "$out"
	sleep 0.5
	state=$(curl -sf "http://127.0.0.1:$ws_port/v1/toggles" || true)
	echo "$state"
	# The tour's OpenFeature line (README, docs/openfeature.md).
	ofrep=$(curl -sf -X POST "http://127.0.0.1:$ws_port/ofrep/v1/evaluate/flags/dark-mode" \
		-d '{"context":{"targetingKey":"user-42"}}' || true)
	echo "$ofrep"
	if [[ $out == *'"name":"dark-mode","active":true'* && $state == *'"name":"dark-mode","active":true'* &&
		$ofrep == '{"key":"dark-mode","value":true,'* ]]; then
		echo "run check: the tour works"
		exit 0
	fi
	echo "run check: FAILED, no notification for the flip"
	exit 1
fi

url="postgresql://postgres@127.0.0.1:$port/$db"
cat <<EOF

pg_toggles is running, with three example toggles:
    PostgreSQL 15    127.0.0.1:$port, database "$db"     (log: .run/postgres.log)
    toggles-pushd    ws://127.0.0.1:$ws_port/v1/stream        (log: .run/pushd.log)

Watch the toggles change live in a browser:
    http://127.0.0.1:$ws_port/

Watch the stream (a snapshot, then one message per committed transaction):
    npx wscat -c ws://127.0.0.1:$ws_port/v1/stream
    curl http://127.0.0.1:$ws_port/v1/toggles

Flip a toggle:
    psql "$url" -c "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'dark-mode'"

Or watch the database's own change stream in psql:
    psql "$url"   then   LISTEN toggles;

Press Ctrl-C to stop both; the cluster is thrown away.
EOF

while as_pg "$PG_BINDIR/pg_ctl" -D "$rundir/pgdata" status >/dev/null 2>&1 &&
	kill -0 "$pushd_pid" 2>/dev/null; do
	sleep 1
done
echo "run: PostgreSQL or toggles-pushd stopped; logs in $rundir"
exit 1
