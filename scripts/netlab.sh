#!/usr/bin/env bash
# netlab.sh up|down — builds (or removes) the network lab of the TAP tests: separate
# "hosts" as network namespaces on one bridge, so that tests can run a cluster on another
# host and cut its links (tests/tools/netlab_ctl.c, tests/t/NetLab.pm).  Needs root;
# scripts/test.sh calls it.  Both commands are idempotent, and `up` first removes what a
# previous run may have left.
#
# Topology (docs/development.md, "The network lab"):
#
#   root namespace: bridge tglab0 10.77.0.254/24, fd77::fe/64 — the TAP tests (and
#   | toggles-pushd, unless a test runs it on a host) live here
#   +-- tgv-db1  <veth>  eth0 in netns tg-db1   10.77.0.1   fd77::1
#   +-- tgv-db2  <veth>  eth0 in netns tg-db2   10.77.0.2   fd77::2
#   +-- tgv-app1 <veth>  eth0 in netns tg-app1  10.77.0.11  fd77::11
#   +-- tgv-app2 <veth>  eth0 in netns tg-app2  10.77.0.12  fd77::12
#   +-- tgv-app3 <veth>  eth0 in netns tg-app3  10.77.0.13  fd77::13
#
# Every host has lo up and a default route via 10.77.0.254 / fd77::fe, and an nftables
# table `inet tglab` whose input and output chains drop what is in its sets: cut4 and
# cut6 (peer addresses, both directions) and cutif (interfaces: "eth0" cuts the host off
# entirely).  netlab_ctl only adds and removes set elements, so a cut never has to find
# a rule again to heal it.  Host-to-host traffic is bridged (layer 2), so the root
# namespace needs no forwarding.  The host table is repeated in netlab_ctl.c and
# NetLab.pm: change all three together.
set -euo pipefail

bridge=tglab0
hosts=(db1:1 db2:2 app1:11 app2:12 app3:13)    # name:N, addresses 10.77.0.N and fd77::N

# The table each host gets; cut rules are set elements, added by netlab_ctl.
nft_table() {
	cat <<-'EOF'
	table inet tglab {
		set cut4 { type ipv4_addr; }
		set cut6 { type ipv6_addr; }
		set cutif { type ifname; }
		chain input {
			type filter hook input priority 0; policy accept;
			iifname @cutif drop
			ip saddr @cut4 drop
			ip6 saddr @cut6 drop
		}
		chain output {
			type filter hook output priority 0; policy accept;
			oifname @cutif drop
			ip daddr @cut4 drop
			ip6 daddr @cut6 drop
		}
	}
	EOF
}

down() {
	local h name
	for h in "${hosts[@]}"; do
		name=${h%%:*}
		# Deleting the namespace deletes its end of the veth pair, and with it the other.
		ip netns del "tg-$name" 2>/dev/null || true
		ip link del "tgv-$name" 2>/dev/null || true
	done
	ip link del "$bridge" 2>/dev/null || true
}

up() {
	local h name n
	down
	ip link add "$bridge" type bridge
	# No DAD: the addresses must work at once, not after a second of duplicate detection.
	ip addr add 10.77.0.254/24 dev "$bridge"
	ip addr add fd77::fe/64 dev "$bridge" nodad
	ip link set "$bridge" up
	for h in "${hosts[@]}"; do
		name=${h%%:*} n=${h##*:}
		ip netns add "tg-$name"
		ip link add "tgv-$name" type veth peer name eth0 netns "tg-$name"
		ip link set "tgv-$name" master "$bridge" up
		ip -n "tg-$name" link set lo up
		ip -n "tg-$name" addr add "10.77.0.$n/24" dev eth0
		ip -n "tg-$name" addr add "fd77::$n/64" dev eth0 nodad
		ip -n "tg-$name" link set eth0 up
		ip -n "tg-$name" route add default via 10.77.0.254
		ip -n "tg-$name" -6 route add default via fd77::fe
		nft_table | ip netns exec "tg-$name" nft -f -
	done
	check
}

# check: the root namespace reaches every host, both families (the bridge and the veth
# ends may need a moment to come up, hence the retries).
check() {
	local h n tries
	for h in "${hosts[@]}"; do
		n=${h##*:}
		for addr in "10.77.0.$n" "fd77::$n"; do
			tries=0
			until ping -c 1 -W 1 "$addr" >/dev/null 2>&1; do
				if (( ++tries >= 5 )); then
					echo "netlab: $addr (tg-${h%%:*}) does not answer from the root namespace" >&2
					return 1
				fi
				sleep 0.2
			done
		done
	done
	echo "netlab: up: bridge $bridge, hosts ${hosts[*]%%:*}"
}

[[ $(id -u) -eq 0 ]] || { echo "netlab: needs root" >&2; exit 1; }
case ${1:-} in
up) up ;;
down) down ;;
*) echo "usage: netlab.sh up|down" >&2; exit 2 ;;
esac
