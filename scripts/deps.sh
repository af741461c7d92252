#!/usr/bin/env bash
# deps.sh — installs the Debian 12 packages the build, the tests and `make run` need,
# only those missing; `deps.sh fuzz` adds those of `make fuzz`, `deps.sh bench` those of
# `make bench`.  Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
	build-essential          # gcc, make
	pkg-config
	postgresql-15            # server binaries: initdb, pg_ctl, postgres, pgbench
	postgresql-client-15     # psql, pg_dump, pg_regress, isolationtester, TAP modules
	postgresql-server-dev-15 # server headers and PGXS
	libpq-dev
	libwebsockets-dev        # toggles-pushd
	libwebsockets-evlib-uv   # toggles-pushd runs lws on libuv (pushd/loop.c): its plugin, loaded at run time
	libuv1-dev               # toggles-pushd: pushd/loop.c owns the libuv loop
	libcjson-dev             # toggles-pushd
	libssl-dev               # toggles-pushd: SHA-256 of client tokens, TLS
	libipc-run-perl          # PostgreSQL::Test::Cluster
	libmojolicious-perl      # WebSocket client of the TAP tests
	libcmocka-dev            # C unit tests
	valgrind                 # leak check of toggles-pushd
	util-linux               # runuser
	curl                     # make run waits on /healthz
	haproxy                  # the balancer tests and make chaos run deploy/haproxy.cfg
	openssl                  # the TLS test makes a self-signed certificate
	libssl-dev               # toggles-pushd reloads its certificate with OpenSSL
	libio-socket-ssl-perl    # the TLS test's clients (Mojo, HTTP::Tiny)
	iproute2                 # the network lab (scripts/netlab.sh): ip netns, veth, bridge
	nftables                 # the network lab: nft, for the link cuts of netlab_ctl
	iputils-ping             # the network lab: netlab.sh up checks every host answers
	git                      # make dist and make deb export the source with it
	dpkg-dev                 # make deb: dpkg-buildpackage, dpkg-parsechangelog
	debhelper                # make deb: dh, dh_installsystemd (debian/rules)
	postgresql-server-dev-all # make deb: pg_buildext and dh's pgxs_loop add-on
	lintian                  # the package test checks the packages
	man-db                   # the package test: man --warnings on toggles-pushd(8)
	debootstrap              # the package test's fresh Debian 12 root
	chromium                 # the console's browser tests (tests/t/061), driven by playwright-core
)

# The JavaScript client's tests (tests/js, npm ci by scripts/test.sh): Node.js and npm,
# Debian's only when the commands are missing (they may come from elsewhere).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

# `make fuzz` (scripts/deps.sh fuzz): clang and its libFuzzer runtime, which Debian ships
# apart from clang and only recommends.
if [[ ${1:-} == fuzz ]]; then
	packages+=(clang libclang-rt-14-dev)
fi

# `make bench` (scripts/deps.sh bench): gnuplot for the plot, perf for profiling (Node.js
# and npm for the peer are in every run's list above).
if [[ ${1:-} == bench ]]; then
	packages+=(gnuplot-nox linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
