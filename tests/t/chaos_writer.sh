#!/usr/bin/env bash
# chaos_writer.sh SECONDS CONNINFO — the writer of 051_chaos.pl: for SECONDS, transactions
# of one to three toggles (chaos-01 .. chaos-20), in batches of five (at most ten batches a
# second), each batch its own psql, so that it outlives a crash of the server (what failed
# was never committed; the next batch goes on).
end=$((SECONDS + $1))
i=0
while [ $SECONDS -lt $end ]; do
	batch=
	for _ in 1 2 3 4 5; do
		i=$((i + 1))
		names=$(printf "'chaos-%02d'" $(( (i * 7) % 20 + 1 )))
		[ $((i % 3)) -gt 0 ] && names="$names,$(printf "'chaos-%02d'" $(( (i * 13) % 20 + 1 )))"
		[ $((i % 3)) -gt 1 ] && names="$names,$(printf "'chaos-%02d'" $(( (i * 3) % 20 + 1 )))"
		batch="$batch UPDATE toggles.features SET is_active = NOT is_active WHERE name IN ($names);"
	done
	echo "$batch" | psql -X -q -d "$2" >/dev/null 2>&1 || sleep 0.3
	# Paced, ~40 transactions a second: unpaced it committed ~190 a second once pushd
	# delivered every change at once, and checking 24 clients' 17,000 messages each
	# against the log took the test 8-10 minutes of Perl.
	sleep 0.1
done
