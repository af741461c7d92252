#!/bin/bash
# package-test-root.sh VERSION PREVIOUS PGMAJOR FIRST — run by scripts/package-test.sh
# inside a fresh Debian 12 root, as its root user, in a network namespace of its own (so
# PostgreSQL on 5432 and the daemon on 8080 meet nothing of the machine's).  The root
# holds the previous release's extension package, installed, and in /pkgtest the new
# packages.  As an operator would, it:
#
#   starts the packaged cluster and creates the extension at PREVIOUS in two databases,
#   with toggles, and runs PREVIOUS's daemon (/pkgtest/toggles-pushd-PREVIOUS, when there
#   is one) on the first;
#   installs both new packages (apt, no download), checks what they put where, their
#   service (systemd-analyze verify and security) and their configuration file;
#   extension first: updates the first database, which the old daemon goes on serving;
#   daemon first: configures the new daemon for the second database (db in the conffile,
#   the password in /etc/toggles-pushd/pgpass) and starts it as the service would (its
#   user, environment, limits and command line, read from the installed unit), while
#   that database is still at PREVIOUS: 503 from 0.1.0 (the daemon reads what 0.2.0 added),
#   200 from 0.2.0 on; then ALTER EXTENSION pg_toggles UPDATE: the daemon is (or comes) up
#   by itself and serves the toggles made before the update, to a client with a token, and
#   a new flip;
#   reloads and stops it; removes toggles-pushd (the conffile stays) and purges it
#   (nothing stays), then the extension package.
#
# Numbers its "ok"/"not ok" lines from FIRST + 1 and ends with "N passed, N failed".
set -uo pipefail

version=$1
prev=$2
pg=$3
n=${4:-0}
passed=0
failed=0
unit=/lib/systemd/system/toggles-pushd.service
conf=/etc/toggles-pushd/toggles-pushd.conf
pushd_pid=

result() {
	n=$((n + 1))
	if [[ $1 == 0 ]]; then
		passed=$((passed + 1))
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}

# check WHAT COMMAND...: the command's output is shown when it fails.  It runs in this
# shell (not a subshell), so that what it sets stays set.
check() {
	local what=$1 rc
	shift
	"$@" > /pkgtest/check.out 2>&1
	rc=$?
	[[ $rc == 0 ]] || tail -n 40 /pkgtest/check.out | sed 's/^/    /'
	result "$rc" "$what"
	return "$rc"
}

psql_as() {
	local db=$1
	shift
	runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# wait_for SECONDS COMMAND...: polls the command every 0.2 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

http_status() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}

finish() {
	[[ -n $pushd_pid ]] && kill -KILL "$pushd_pid" 2>/dev/null
	[[ -n ${prev_pid:-} ]] && kill -KILL "$prev_pid" 2>/dev/null
	pg_ctlcluster "$pg" main stop -m fast >/dev/null 2>&1
	echo "$passed passed, $failed failed"
	exit
}
trap finish EXIT

cd /pkgtest || exit 1
ext_deb=/pkgtest/postgresql-$pg-pg-toggles_${version}_amd64.deb
pushd_deb=/pkgtest/toggles-pushd_${version}_amd64.deb

# ---- the previous release, in use --------------------------------------------------------
check "the packaged cluster $pg/main starts" pg_ctlcluster "$pg" main start || exit
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
extversion() {
	psql_as "$1" -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_toggles'"
}
# Two databases at PREVIOUS: "early" is updated before the daemon, "app" after it.
setup_previous() {
	local db
	psql_as postgres -c "CREATE ROLE pushd_svc LOGIN PASSWORD '$password'" || return 1
	for db in early app; do
		psql_as postgres -c "CREATE DATABASE $db" &&
			psql_as "$db" <<SQL || return 1
CREATE EXTENSION pg_toggles;
INSERT INTO toggles.features (name, is_active, description) VALUES
    ('dark-mode', true, 'made at $prev'), ('beta-banner', false, 'made at $prev');
UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'beta-banner';
GRANT toggles_pushd TO pushd_svc;
SQL
		[[ $(extversion "$db") == "$prev" ]] || return 1
	done
}
check "CREATE EXTENSION pg_toggles from the $prev package in two databases, two toggles, a flip" \
	setup_previous || exit

# The previous release's daemon on "early", over the Unix socket as postgres: a stand-in
# for the one already running when the packages are upgraded.  Anonymous, so that the
# checks read /v1/toggles without a token (every daemon release has --allow-anonymous).
prev_pushd=/pkgtest/toggles-pushd-$prev
prev_pid=
start_previous_daemon() {
	setpriv --reuid=postgres --regid=postgres --init-groups -- env -i HOME=/nonexistent \
		"$prev_pushd" --db "host=/var/run/postgresql dbname=early user=postgres" \
		--listen 127.0.0.1:8081 --allow-anonymous > /pkgtest/pushd-prev.log 2>&1 &
	prev_pid=$!
	wait_for 15 bash -c '[[ $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8081/healthz) == 200 ]]' ||
		{ cat /pkgtest/pushd-prev.log; return 1; }
}
if [[ -x $prev_pushd ]]; then
	check "the $prev daemon serves the $prev database" start_previous_daemon
else
	echo "    (no $prev daemon to run: the extension-first order is not checked)"
fi

# ---- the new packages ----------------------------------------------------------------------
check "apt-get install of both $version packages over $prev (offline: nothing to download)" \
	apt-get install -y -q --no-install-recommends "$ext_deb" "$pushd_deb" || exit
installed() {
	[[ $(dpkg-query -W -f='${Version} ${db:Status-Status}' "postgresql-$pg-pg-toggles") == "$version installed" &&
		$(dpkg-query -W -f='${Version} ${db:Status-Status}' toggles-pushd) == "$version installed" ]]
}
check "both packages are installed at $version" installed

scripts_installed() {
	local dir=/usr/share/postgresql/$pg/extension f
	for f in "pg_toggles--$prev.sql" "pg_toggles--$version.sql" "pg_toggles--$prev--$version.sql" \
		pg_toggles.control; do
		[[ -f $dir/$f ]] || { echo "missing $dir/$f"; return 1; }
	done
}
check "the extension package holds the install scripts of $prev and $version and the upgrade" \
	scripts_installed

system_user() {
	local entry
	entry=$(getent passwd toggles-pushd) || { echo "no user toggles-pushd"; return 1; }
	IFS=: read -r _ _ uid _ _ home shell <<< "$entry"
	echo "$entry"
	((uid < 1000)) && [[ $shell == */nologin && ! -e $home ]]
}
check "toggles-pushd has a system user of its own (no shell, no home)" system_user

conffile() {
	local mode
	dpkg-query -W -f='${Conffiles}\n' toggles-pushd | grep -q " $conf " ||
		{ echo "$conf is not a conffile"; return 1; }
	mode=$(stat -c '%a %U:%G' /etc/toggles-pushd "$conf" | tr '\n' ' ')
	[[ $mode == "750 root:toggles-pushd 640 root:toggles-pushd " ]] ||
		{ echo "modes: $mode"; return 1; }
	# Commented defaults: not one active line, and every setting of --help is there.
	if grep -v -e '^#' -e '^[[:space:]]*$' "$conf"; then
		echo "active lines above"
		return 1
	fi
	for opt in $(toggles-pushd --help | sed -n 's/^  --\(\[no-\]\)\{0,1\}\([a-z-]*\).*/\2/p'); do
		[[ $opt == config || $opt == print-config || $opt == print-man || $opt == help ||
			$opt == version ]] && continue
		grep -q "^#$opt = " "$conf" || { echo "no #$opt = line"; return 1; }
	done
}
check "$conf: a conffile, root:toggles-pushd 0640, every setting commented at its default" conffile

check "the service is installed disabled" \
	bash -c '[[ $(systemctl is-enabled toggles-pushd.service 2>&1) == disabled ]]'
check "systemd-analyze verify toggles-pushd.service" \
	bash -c 'out=$(systemd-analyze verify toggles-pushd.service 2>&1); echo "$out"; [[ -z $out ]]'
security=$(systemd-analyze security --offline=true toggles-pushd.service 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for toggles-pushd.service: \([0-9.]*\) .*/\1/p' <<< "$security")
check "systemd-analyze security --offline=true: exposure ${exposure:-?}, at most 2.0" \
	awk -v s="${exposure:-99}" 'BEGIN { exit !(s <= 2.0) }' || printf '%s\n' "$security" | sed 's/^/    /'
check "man toggles-pushd finds the packaged page" man -w toggles-pushd

# ---- extension first: the old daemon on an updated database ----------------------------
extension_first() {
	psql_as early -c 'ALTER EXTENSION pg_toggles UPDATE' && [[ $(extversion early) == "$version" ]] &&
		psql_as early -c "UPDATE toggles.features SET is_active = false WHERE name = 'dark-mode'" &&
		wait_for 10 bash -c 'curl -sf http://127.0.0.1:8081/v1/toggles |
			grep -q "\"name\":\"dark-mode\",\"active\":false"' &&
		[[ $(http_status http://127.0.0.1:8081/healthz) == 200 ]]
}
if [[ -n $prev_pid ]]; then
	check "extension first: after ALTER EXTENSION UPDATE to $version the $prev daemon goes on serving, a flip reaches it" \
		extension_first
	kill -TERM "$prev_pid" && wait "$prev_pid"
	prev_pid=
fi

# ---- the daemon, as the service runs it ------------------------------------------------------
configure() {
	sed -i "s|^#db = .*|db = \"host=127.0.0.1 port=5432 dbname=app user=pushd_svc\"|" "$conf" &&
		grep -q '^db = ' "$conf" &&
		install -o toggles-pushd -g toggles-pushd -m 600 /dev/null /etc/toggles-pushd/pgpass &&
		echo "127.0.0.1:5432:app:pushd_svc:$password" > /etc/toggles-pushd/pgpass
}
check "configured as docs/operations.md says: db in the conffile, the password in pgpass" configure

# start_as_service: User=, Group=, Environment=, LimitNOFILE= and ExecStart= of the
# installed unit, in the environment systemd gives a service (its PATH; HOME, USER,
# LOGNAME and SHELL of User=; then Environment=), nothing inherited.
start_as_service() {
	local user group envs=() limit exec home shell
	user=$(sed -n 's/^User=//p' "$unit")
	group=$(sed -n 's/^Group=//p' "$unit")
	mapfile -t envs < <(sed -n 's/^Environment=//p' "$unit")
	limit=$(sed -n 's/^LimitNOFILE=//p' "$unit")
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	[[ -n $user && -n $exec ]] || return 1
	IFS=: read -r _ _ _ _ _ home shell <<< "$(getent passwd "$user")"
	echo "as $user: ${envs[*]} $exec"
	# setpriv, not runuser: it execs the daemon, so that signals reach it as systemd's would.
	(ulimit -n "$limit" && exec setpriv --reuid="$user" --regid="$group" --init-groups -- \
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME="$home" USER="$user" LOGNAME="$user" SHELL="$shell" "${envs[@]}" $exec) \
		> /pkgtest/pushd.log 2>&1 &
	pushd_pid=$!
	wait_for 10 grep -q 'listening on' /pkgtest/pushd.log
}
check "toggles-pushd starts as the unit says, with the packaged config" start_as_service
# What a new daemon makes of a database still at $prev depends on what it reads: 0.2.0's
# daemon reads toggles.tokens, which 0.1.0 lacks; 0.3.0's only writes a transport that
# 0.2.0's toggles.register_connections ignores.
refused_old() {
	wait_for 15 grep -q 'setup query failed' /pkgtest/pushd.log &&
		[[ $(http_status http://127.0.0.1:8080/healthz) == 503 ]]
}
served_old() {
	wait_for 15 bash -c '[[ $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8080/healthz) == 200 ]]' &&
		! grep -q 'setup query failed' /pkgtest/pushd.log
}
if dpkg --compare-versions "$prev" lt 0.2.0; then
	check "daemon first: against the $prev database its setup fails, /healthz says 503" refused_old
else
	check "daemon first: it serves the $prev database as it is, /healthz 200" served_old
fi

update_extension() {
	psql_as app -c 'ALTER EXTENSION pg_toggles UPDATE' && [[ $(extversion app) == "$version" ]]
}
check "ALTER EXTENSION pg_toggles UPDATE: $prev -> $version" update_extension
fresh_install() {
	psql_as postgres -c 'CREATE DATABASE fresh' &&
		psql_as fresh -c 'CREATE EXTENSION pg_toggles' &&
		[[ $(extversion fresh) == "$version" ]]
}
check "CREATE EXTENSION in a new database installs $version" fresh_install

t0=$SECONDS
check "the daemon comes up by itself after the update: /healthz 200" \
	wait_for 60 bash -c '[[ $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8080/healthz) == 200 ]]'
echo "    (up $((SECONDS - t0)) s after the update)"

token=$(psql_as app -c "SELECT toggles.create_token('package-test', '{*}')")
check "no token: /v1/toggles says 401 (the packaged default wants tokens)" \
	bash -c '[[ $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8080/v1/toggles) == 401 ]]'
snapshot() {
	local body
	body=$(curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:8080/v1/toggles) || return 1
	echo "$body"
	[[ $body == *'"name":"dark-mode","active":'"$1"* && $body == *'"name":"beta-banner","active":true'* &&
		$body == *'"epoch":'* ]]
}
check "a snapshot with a token: the toggles made at $prev, as they were" snapshot true
psql_as app -c "UPDATE toggles.features SET is_active = false WHERE name = 'dark-mode'"
check "a flip committed now reaches the daemon" wait_for 5 snapshot false

reload() {
	kill -HUP "$pushd_pid" && wait_for 5 grep -q 'settings reloaded' /pkgtest/pushd.log
}
check "SIGHUP (the unit's ExecReload) reloads the settings" reload
stop_daemon() {
	kill -TERM "$pushd_pid" && wait "$pushd_pid"
	local rc=$?
	pushd_pid=
	grep -q 'stopped' /pkgtest/pushd.log && return "$rc"
}
check "SIGTERM stops it cleanly (exit 0)" stop_daemon
sed 's/^/    pushd: /' /pkgtest/pushd.log | head -n 30

# ---- remove and purge ---------------------------------------------------------------------------
removed() {
	apt-get remove -y -q toggles-pushd || return 1
	[[ $(dpkg-query -W -f='${db:Status-Status}' toggles-pushd) == config-files ]] &&
		[[ ! -e /usr/bin/toggles-pushd ]] &&
		grep -q '^db = "host=127.0.0.1' "$conf" && [[ -f /etc/toggles-pushd/pgpass ]]
}
check "apt-get remove toggles-pushd: the program goes, the edited conffile and pgpass stay" removed
nothing_left() {
	local list=$1 f left=0
	while read -r f; do
		[[ -e $f || -L $f ]] && { echo "left: $f"; left=1; }
	done < "$list"
	return "$left"
}
purged() {
	apt-get purge -y -q toggles-pushd || return 1
	dpkg-query -W -f='${db:Status-Status}' toggles-pushd 2>/dev/null | grep -q installed &&
		{ echo "still known to dpkg"; return 1; }
	[[ ! -e /etc/toggles-pushd ]] || { echo "/etc/toggles-pushd stays"; return 1; }
	nothing_left /pkgtest/toggles-pushd.files
}
check "apt-get purge toggles-pushd: nothing of it stays (the system user does, as Debian does)" purged

pg_ctlcluster "$pg" main stop -m fast
purge_extension() {
	apt-get purge -y -q "postgresql-$pg-pg-toggles" || return 1
	nothing_left /pkgtest/extension.files
}
check "apt-get purge postgresql-$pg-pg-toggles: none of its files stays" purge_extension
