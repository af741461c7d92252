#!/usr/bin/env bash
# deps.sh — what the benchmark needs on top of scripts/deps.sh: gnuplot for the plot,
# Node.js and npm for the peer, OpenSSL headers for the floor server's handshake, perf
# for profiling.  Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail

packages=(gnuplot-nox libssl-dev linux-perf)
# Node.js may come from elsewhere than Debian (its own npm included): only ask for
# Debian's when the commands are missing.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "bench deps: installing ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
