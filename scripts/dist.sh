#!/usr/bin/env bash
# dist.sh — `make dist`: the PGXN distribution pg_toggles-VERSION.zip (git archive of a
# commit, everything under pg_toggles-VERSION/), checked as PGXN Manager would check an
# upload (scripts/pgxn-check.pl), into build/dist/.
#
#   scripts/dist.sh                 HEAD: commit what is to be released first
#   scripts/dist.sh --ref v0.2.0    a tag or commit
#   scripts/dist.sh --out DIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ref=HEAD
out=$top/build/dist
while (($#)); do
	case $1 in
		--ref) ref=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) echo "dist.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

meta=$(git -C "$top" show "$ref:META.json")
name=$(perl -MJSON::PP -e 'print JSON::PP->new->decode(join "", <STDIN>)->{name}' <<< "$meta")
version=$(perl -MJSON::PP -e 'print JSON::PP->new->decode(join "", <STDIN>)->{version}' <<< "$meta")
archive=$out/$name-$version.zip
mkdir -p "$out"
git -C "$top" archive --format=zip --prefix="$name-$version/" -o "$archive" "$ref"
if [[ $ref == HEAD ]] && [[ -n $(git -C "$top" status --porcelain --untracked-files=no) ]]; then
	echo "dist: note: the archive holds HEAD; the working tree has uncommitted changes"
fi

# Released versions: the tags vX.Y.Z that are not this commit.
released=()
for tag in $(git -C "$top" tag --list 'v[0-9]*'); do
	[[ $(git -C "$top" rev-parse "$tag^{commit}") == $(git -C "$top" rev-parse "$ref^{commit}") ]] &&
		continue
	released+=("${tag#v}")
done
perl "$top/scripts/pgxn-check.pl" "$archive" "${released[@]}"
echo "dist: $archive ($(( $(stat -c %s "$archive") / 1024 )) KiB)"
