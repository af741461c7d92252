# pushd's own backend stopped with SIGSTOP for 20 s: the TCP link stays open and nothing
# answers (stopping the postmaster would not do: backends keep answering).  pushd notices
# within the bound (--db-probe-interval + --db-timeout, defaults: 7 s, at most 10 s), logs
# why, gives up that session and reconnects to a new backend, and its client gets the
# flips committed meanwhile, with no version going backwards.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NetLab;
use PushdHelper;

PushdHelper::require_pushd();
NetLab::require_lab();

my $node = NetLab::cluster('stopped_db', host => 'db1');
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('stop-a'), ('stop-b');
});
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $epoch = sql('SELECT toggles.epoch()');

my $pushd = PushdHelper->start($node, db => NetLab::tcp_connstr($node), start_timeout => 30,
	args => [ '--reconnect-min', '200', '--reconnect-max', '1000' ]);
my $client = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($client, sub { $client->count >= 1 }, 10, 'snapshot'), 'a client has its snapshot');

sub pushd_backends
{
	return sql(q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
		WHERE application_name = 'toggles-pushd'});
}
my $pid = pushd_backends();
like($pid, qr/^\d+$/, "pushd has one backend ($pid)");

my $t_stop = time;
ok(kill('STOP', $pid), 'SIGSTOP to that backend');
ok(PushdHelper::wait_for([], sub { $pushd->log_contents =~ /database link lost: no answer from the server/ }, 20),
	'pushd gives the silent link up');
my $detected = time - $t_stop;
cmp_ok($detected, '<=', 10, sprintf('... %.2f s after the stop (bound: 10 s)', $detected));
diag(sprintf('stopped backend noticed after %.2f s', $detected));
cmp_ok($pushd->metric('pushd_database_timeouts_total'), '>=', 1, 'pushd_database_timeouts_total counts it');

# While the old backend is still stopped, pushd is back on a new one and serving.
ok(PushdHelper::wait_for([], sub { grep { $_ ne $pid } split /,/, pushd_backends() // '' }, 15),
	'pushd has a new backend');
ok($pushd->wait_health(200, 15), '/healthz 200 on the new backend');
sql(q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'stop-a'});
my $v = PushdHelper::current_version($node);
ok(PushdHelper::all_reached([$client], $v, 10), "a flip made meanwhile reaches the client (version $v)");
ok(!$client->closed, 'the client was never closed (the outage was shorter than the grace)');

my $rest = $t_stop + 20 - time;
PushdHelper::pump($rest) if $rest > 0;
ok(kill('CONT', $pid), 'SIGCONT after 20 s');
ok(PushdHelper::wait_for([], sub { !grep { $_ eq $pid } split /,/, pushd_backends() // '' }, 20),
	'the old backend goes away once it runs again (its client is gone)');

sql(q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'stop-b'});
$v = PushdHelper::current_version($node);
ok(PushdHelper::all_reached([$client], $v, 10), "later flips arrive too (version $v)");
my $r = PushdHelper::LogModel->load($node)->verify_stream([ $client->messages ], epoch => $epoch);
is_deeply($r->{errors}, [], 'the stream checks out against the log: nothing lost, nothing backwards');

is($pushd->stop, 0, 'clean stop');
$node->stop;
done_testing();
