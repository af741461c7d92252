#!/usr/bin/env bash
# package-test.sh [WORKDIR] — the "package" suite of make test (docs/development.md,
# "The package test"), as root:
#
#   1. make dist: the PGXN archive, checked as PGXN would (scripts/pgxn-check.pl)
#   2. make deb of the working tree, then lintian over the result (no tag but the
#      overridden ones) and the man page (no roff warning, every option of --help)
#   3. the previous release's extension package: the newest tag vX.Y.Z below the current
#      version, with its own debian/ when it has one; a tag from before the packaging
#      existed gets a plain package of what its make install installs (and its daemon as
#      its make built it)
#   4. a fresh Debian 12 root (debootstrap --variant=minbase from the mirror apt uses
#      here, never this machine's own dpkg), made once per run and removed at the end,
#      with the previous extension package and what the new packages depend on;
#      then scripts/package-test-root.sh inside it, chrooted in a network and mount
#      namespace of its own: PostgreSQL, the upgrade, the daemon, remove and purge
#
# Prints "ok N - ..." or "not ok N - ..." per check and ends with "N passed, N failed";
# exits non-zero when anything failed.  Everything it makes is under WORKDIR (a fresh
# directory under /tmp when not given), the root included.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

work=${1:-$(mktemp -d /tmp/pg_toggles-package.XXXXXX)}
mkdir -p "$work"
root=$work/root
started=$SECONDS
passed=0
failed=0

# result OK WHAT: one "ok"/"not ok" line, counted.
result() {
	if [[ $1 == 0 ]]; then
		passed=$((passed + 1))
		echo "ok $((passed + failed)) - $2"
	else
		failed=$((failed + 1))
		echo "not ok $((passed + failed)) - $2"
	fi
}

# step WHAT COMMAND...: runs the command with its output in a log, shown when it fails.
step() {
	local what=$1 log t0=$SECONDS rc
	shift
	log=$(mktemp "$work/step.XXXXXX")
	last_log=$log
	"$@" > "$log" 2>&1
	rc=$?
	[[ $rc == 0 ]] || tail -n 60 "$log"
	result "$rc" "$what ($((SECONDS - t0)) s)"
	return "$rc"
}

finish() {
	echo "package suite: $((SECONDS - started)) s"
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit
}

if [[ $(id -u) -ne 0 ]]; then
	echo "package-test: needs root (debootstrap, chroot, namespaces)"
	result 1 "run as root"
	finish
fi

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$top/pg_toggles.control")
pgmajor=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')

# ---- 1. the PGXN archive ---------------------------------------------------------------
step "make dist: the PGXN archive passes PGXN's checks" "$top/scripts/dist.sh" --out "$work/dist"

# ---- 2. the packages of this tree ------------------------------------------------------
if ! step "make deb: packages of $version built with dpkg-buildpackage (pg_regress and isolation against the packaged files)" \
	"$top/scripts/deb.sh" --out "$work/deb"; then
	finish
fi
grep '\.deb ' "$last_log"
ext_deb=$work/deb/postgresql-${pgmajor}-pg-toggles_${version}_amd64.deb
pushd_deb=$work/deb/toggles-pushd_${version}_amd64.deb

# lintian refuses nothing as root but says not to; it runs as the PostgreSQL user.
chmod -R a+rX "$work/deb"
lintian_check() {
	cd "$work/deb" && as_pg lintian --pedantic --display-info \
		--fail-on error,warning,info,pedantic "pg-toggles_${version}_amd64.changes"
}
step "lintian: no tag but the overridden ones" lintian_check
grep '^[EWIPXON]: ' "$last_log" | sed 's/^/  lintian: /'

man_check() {
	local pkgroot=$work/pushd-pkg man text warnings opt missing=0
	rm -rf "$pkgroot" && dpkg-deb -x "$pushd_deb" "$pkgroot"
	man=$pkgroot/usr/share/man/man8/toggles-pushd.8.gz
	warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$man" 2>&1 >/dev/null)
	[[ -z $warnings ]] || { echo "roff warnings: $warnings"; return 1; }
	text=$(zcat "$man" | sed 's/\\-/-/g; s/\\f[BIR]//g')
	for opt in $("$pkgroot/usr/bin/toggles-pushd" --help | grep -o -- '--[a-z][][a-z-]*' | sort -u); do
		if ! grep -qF -- "$opt" <<< "$text"; then
			echo "the man page lacks $opt"
			missing=1
		fi
	done
	return "$missing"
}
step "toggles-pushd(8): no roff warning, every option of --help" man_check

# ---- 3. the previous release -----------------------------------------------------------
prev_tag=
prev_version=
for tag in $(git -C "$top" tag --list 'v[0-9]*.[0-9]*.[0-9]*' | sort -V); do
	dpkg --compare-versions "${tag#v}" lt "$version" && prev_tag=$tag
done
prev_version=${prev_tag#v}
# Tags do not travel with every clone (a CI that clones one branch): without one, the
# previous release is the commit before the one that started this version.
if [[ -z $prev_tag ]]; then
	first_at_version=$(git -C "$top" log --first-parent --reverse --format=%H \
		-S"default_version = '$version'" -- pg_toggles.control | head -n 1)
	if [[ -n $first_at_version ]] && git -C "$top" rev-parse -q --verify "$first_at_version^" >/dev/null; then
		prev_tag=$(git -C "$top" rev-parse --short "$first_at_version^")
		prev_version=$(git -C "$top" show "$prev_tag:pg_toggles.control" |
			sed -n "s/^default_version = '\(.*\)'/\1/p")
		echo "no release tag below $version: upgrading from $prev_tag ($prev_version)"
	fi
fi

# build_previous: the previous release's extension package into $work/deb-prev.
build_previous() {
	local tree=$work/prev-tree stage=$work/prev-stage pkg=$work/prev-pkg
	if git -C "$top" cat-file -e "$prev_tag:debian/control.in" 2>/dev/null; then
		DEB_BUILD_OPTIONS=nocheck "$top/scripts/deb.sh" --ref "$prev_tag" --out "$work/deb-prev"
		return
	fi
	# Before the packaging existed: PGXS's make install of the tag, the extension's files only.
	rm -rf "$tree" "$stage" "$pkg" && mkdir -p "$tree" "$pkg/DEBIAN" "$work/deb-prev"
	git -C "$top" archive "$prev_tag" | tar -xf - -C "$tree"
	make -C "$tree" -j2 PG_CONFIG="$PG_CONFIG" >/dev/null &&
		make -C "$tree" install PG_CONFIG="$PG_CONFIG" DESTDIR="$stage" >/dev/null || return 1
	(cd "$stage" && cp -a --parents usr/lib/postgresql usr/share/postgresql "$pkg/")
	cat > "$pkg/DEBIAN/control" <<EOF
Package: postgresql-${pgmajor}-pg-toggles
Version: $prev_version
Architecture: $(dpkg --print-architecture)
Maintainer: pg_toggles developers <maintainers@users.noreply.r-seed-409325ea.example>
Depends: postgresql-${pgmajor}
Section: database
Priority: optional
Description: real-time feature toggles stored in PostgreSQL ($prev_tag)
 The extension as $prev_tag's make install installed it, packaged by
 scripts/package-test.sh for the upgrade test: $prev_tag predates debian/.
EOF
	dpkg-deb --root-owner-group --build "$pkg" \
		"$work/deb-prev/postgresql-${pgmajor}-pg-toggles_${prev_version}_amd64.deb"
}
if [[ -z $prev_tag ]]; then
	result 1 "a release tag below $version to upgrade from (git tag v0.1.0 ...)"
	finish
fi
step "the previous release's extension package ($prev_tag)" build_previous || finish
prev_deb=$work/deb-prev/postgresql-${pgmajor}-pg-toggles_${prev_version}_amd64.deb

# The previous release's daemon, for the other upgrade order (extension first): from its
# package when it had one, else as its make built it.
prev_pushd=
if [[ -f $work/deb-prev/toggles-pushd_${prev_version}_amd64.deb ]]; then
	dpkg-deb -x "$work/deb-prev/toggles-pushd_${prev_version}_amd64.deb" "$work/prev-pushd-pkg" &&
		prev_pushd=$work/prev-pushd-pkg/usr/bin/toggles-pushd
elif [[ -x $work/prev-tree/pushd/toggles-pushd ]]; then
	prev_pushd=$work/prev-tree/pushd/toggles-pushd
fi

# ---- 4. a fresh Debian 12 root -----------------------------------------------------------
# The suites and mirrors apt uses here (bookworm, -updates, -security).
mapfile -t sources < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
	'Identifier: Packages' | awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u)
mirror=$(printf '%s\n' "${sources[@]}" | awk '$2 == "bookworm" { print $1; exit }')
mirror=${mirror:-http://deb.debian.org/debian/}

# in_root CMD...: CMD chrooted in the root, with /proc and a /dev/shm of its own, in a
# mount namespace that goes with it (nothing stays mounted on this machine).
in_root() {
	unshare --mount --propagation private --fork -- bash -c '
		r=$1; shift
		mount -t proc proc "$r/proc" && mount -t tmpfs -o mode=1777 shm "$r/dev/shm" &&
		mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts" &&
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
			DEBIAN_FRONTEND=noninteractive chroot "$r" "$@"' _ "$root" "$@"
}

# cleanup_root: ends what still runs in the root (by process id), then removes it without
# crossing into anything mounted there (nothing is: the mounts lived in namespaces) — or
# keeps it for a look when a check failed.
cleanup_root() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	sleep 0.5
	if ((failed == 0)); then
		rm -rf --one-file-system "$root"
	else
		echo "package-test: the Debian root is kept in $root (chroot into it to look; rm -rf --one-file-system to remove)"
	fi
}

# The new packages' dependencies, so that installing them later needs no network.
new_depends() {
	local f
	for f in "$ext_deb" "$pushd_deb"; do dpkg-deb -f "$f" Depends; done | tr ',' '\n' |
		sed 's/|.*//; s/(.*)//; s/ //g' | grep -v -e '^$' -e 'pg-toggles' | sort -u
}

make_root() {
	local line uri suite comps
	# In a mount namespace of its own: what it mounts in the root cannot outlive it.
	unshare --mount --propagation private -- \
		debootstrap --variant=minbase bookworm "$root" "$mirror" || return 1
	: > "$root/etc/apt/sources.list"
	for line in "${sources[@]}"; do
		read -r uri suite comps <<< "$line"
		echo "deb $uri $suite $comps" >> "$root/etc/apt/sources.list"
	done
	# This machine's Acquire settings (a snapshot mirror's dates, a proxy), nothing else.
	grep -lh '^[[:space:]]*Acquire' /etc/apt/apt.conf.d/* 2>/dev/null |
		while read -r f; do cp "$f" "$root/etc/apt/apt.conf.d/"; done
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# No service starts in the root: postgresql's postinst must not start its cluster.
	printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	mkdir -p "$root/pkgtest"
	cp "$prev_deb" "$ext_deb" "$pushd_deb" "$top/scripts/package-test-root.sh" "$root/pkgtest/"
	[[ -z $prev_pushd ]] || cp "$prev_pushd" "$root/pkgtest/toggles-pushd-$prev_version"
	dpkg-deb -c "$pushd_deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' \
		> "$root/pkgtest/toggles-pushd.files"
	dpkg-deb -c "$ext_deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' \
		> "$root/pkgtest/extension.files"
	in_root apt-get -q update &&
		in_root apt-get -q install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
			"./pkgtest/${prev_deb##*/}" $(new_depends) \
			curl procps systemd man-db
}
step "a minimal Debian 12 root from $mirror, with $prev_tag's extension package installed" \
	make_root || { cleanup_root; finish; }

# ---- 5. inside: the extension, the daemon, upgrade, remove, purge ------------------------
echo "== inside the Debian 12 root (network namespace of its own)"
inside_log=$work/inside.log
unshare --mount --net --propagation private --fork -- bash -c '
	r=$1; shift
	ip link set lo up &&
	mount -t proc proc "$r/proc" && mount -t tmpfs -o mode=1777 shm "$r/dev/shm" &&
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts" &&
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
		DEBIAN_FRONTEND=noninteractive chroot "$r" "$@"' _ "$root" \
	/bin/bash /pkgtest/package-test-root.sh "$version" "$prev_version" "$pgmajor" \
	"$((passed + failed))" 2>&1 |
	tee "$inside_log"
read -r in_passed in_failed < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' \
	"$inside_log" | tail -n 1)
if [[ -z ${in_passed:-} ]]; then
	result 1 "the checks inside the root ran to their end"
else
	passed=$((passed + in_passed))
	failed=$((failed + in_failed))
fi

cleanup_root
finish
