#!/usr/bin/env bash
# deb.sh — `make deb`: the Debian packages postgresql-15-pg-toggles and toggles-pushd
# (and the native source package), built with dpkg-buildpackage from a clean copy of the
# source, never from the checkout itself (its objects may have been built otherwise).
#
#   scripts/deb.sh                  the working tree: tracked files and new files that
#                                   .gitignore does not exclude, as they are now
#   scripts/deb.sh --ref REF        a commit or tag instead (git archive), e.g. v0.2.0
#   scripts/deb.sh --out DIR        where the packages go (default build/deb)
#
# dpkg-buildpackage runs pg_regress and the isolation specs against the packaged files
# (debian/rules); DEB_BUILD_OPTIONS=nocheck skips them.  Needs the build dependencies of
# debian/control (scripts/deps.sh installs them).  Prints the packages and their sizes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ref=
out=$top/build/deb
while (($#)); do
	case $1 in
		--ref) ref=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) echo "deb.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# control_version TREE: default_version of the control file in TREE.
control_version() {
	sed -n "s/^default_version = '\(.*\)'/\1/p" "$1/pg_toggles.control"
}

build=$(mktemp -d "${TMPDIR:-/tmp}/pg_toggles-deb.XXXXXX")
trap 'rm -rf "$build"' EXIT
mkdir "$build/tree"
if [[ -n $ref ]]; then
	git -C "$top" archive --format=tar "$ref" | tar -xf - -C "$build/tree"
else
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
		xargs -0 cp --parents -t "$build/tree")
fi

version=$(control_version "$build/tree")
[[ -d $build/tree/debian ]] || { echo "deb.sh: ${ref:-the tree} has no debian/" >&2; exit 1; }
changelog_version=$(cd "$build/tree" && dpkg-parsechangelog -S Version)
if [[ ${changelog_version%%[-+~]*} != "$version" ]]; then
	echo "deb.sh: debian/changelog is at $changelog_version but pg_toggles.control at $version;" >&2
	echo "        add a changelog entry for $version (docs/development.md, Releasing)." >&2
	exit 1
fi

src=$build/pg-toggles-$version
mv "$build/tree" "$src"
echo "deb: building pg-toggles $changelog_version from ${ref:-the working tree}"
(cd "$src" && dpkg-buildpackage -us -uc) > "$build/build.log" 2>&1 || {
	tail -n 80 "$build/build.log"
	echo "deb.sh: dpkg-buildpackage failed (the whole log is above, last 80 lines)" >&2
	exit 1
}
mkdir -p "$out"
find "$build" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.dsc' -o -name '*.tar.*' \
	-o -name '*.changes' -o -name '*.buildinfo' \) -exec mv -t "$out" {} +
cp "$build/build.log" "$out/pg-toggles_${changelog_version}.build.log"
for f in "$out"/*_"$changelog_version"_*.deb; do
	printf '  %-58s %6d KiB installed %6d KiB\n' "${f##*/}" $(( $(stat -c %s "$f") / 1024 )) \
		"$(dpkg-deb -f "$f" Installed-Size)"
done
