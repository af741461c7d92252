#!/usr/bin/env bash
# module-graph.sh — toggles-pushd's modules and how they reach each other, for reviews and
# docs/development.md ("Layers"):
#
#   scripts/module-graph.sh includes   one line "pushd/X.c -> Y.h" per #include of a pushd
#                                      header (headers including headers: "pushd/X.h -> Y.h")
#   scripts/module-graph.sh calls      one line "X -> Y: f g ..." per module X calling
#                                      functions (or using variables) module Y defines;
#                                      read from the objects of `make pushd` with nm
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

includes() {
	local f h
	for f in pushd/*.c pushd/*.h; do
		sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r h; do
			if [[ -f pushd/$h ]]; then echo "$f -> $h"; fi
		done
	done
}

calls() {
	local o m defs
	defs=$(mktemp)
	trap 'rm -f "$defs"' RETURN
	for o in pushd/*.o; do
		[[ -f $o ]] || { echo "module-graph.sh: no objects; run make pushd" >&2; exit 1; }
		m=$(basename "$o" .o)
		[[ $m == common_* ]] && continue
		nm -g --defined-only "$o" | awk -v m="$m" '{ print $3, m }'
	done | sort > "$defs"
	for o in pushd/*.o; do
		m=$(basename "$o" .o)
		[[ $m == common_* ]] && continue
		nm -u "$o" | awk '{ print $2 }' | sort | join - "$defs" |
			awk -v m="$m" '$2 != m { s[$2] = s[$2] " " $1 } END { for (k in s) print m " -> " k ":" s[k] }' |
			sort
	done
}

case ${1:-} in
	includes) includes ;;
	calls) calls ;;
	*) echo "usage: $0 includes|calls" >&2; exit 2 ;;
esac
