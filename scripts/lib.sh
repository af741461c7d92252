# lib.sh — shared by scripts/test.sh and scripts/run.sh: where PostgreSQL 15 lives and
# how to run it as an unprivileged user (the server refuses to run as root).

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
PG_PGXS_SRC=$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/.." && pwd)
PG_REGRESS=$PG_PGXS_SRC/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PG_PGXS_SRC/test/isolation/pg_isolation_regress
PG_TAP_PERL=$PG_PGXS_SRC/test/perl

# Root runs PostgreSQL as $PG_USER; anybody else runs it as themselves.
if [[ $(id -u) -eq 0 ]]; then
	PG_USER=${PG_USER:-postgres}
else
	PG_USER=$(id -un)
fi

as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

# pg_can_reach DIR: can $PG_USER enter DIR (every parent must be searchable)?
pg_can_reach() {
	as_pg test -x "$1" -a -r "$1" 2>/dev/null
}

# pg_owned_dir PATH: creates PATH (and parents) and hands it to $PG_USER.
pg_owned_dir() {
	mkdir -p "$1"
	[[ $(id -u) -eq 0 ]] && chown "$PG_USER" "$1"
	return 0
}
