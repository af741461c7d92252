# A failing-over database, in the network lab: a primary on db1 and a streaming standby on
# db2 (pg_basebackup, replication over TCP), pushd with both hosts and
# target_session_attrs=read-write.
#
# 1. Asynchronous, with a lost tail: replication is cut, K changes are committed and a
#    client receives them, the primary stops and the standby (without them) is promoted.
#    pushd follows by itself; the client gets exactly one snapshot of the new epoch (a
#    later timeline), which no longer holds the lost changes.  When the old primary comes
#    back unfenced, first in the host list, pushd refuses its earlier timeline and stays on
#    the new one; a write there reaches nobody.  A fresh node that follows the old primary
#    closes a client of the new epoch with 1013 instead of sending it the old history.
# 2. Synchronous (synchronous_commit = on, the standby synchronous): a failover loses
#    nothing a client was told; its one snapshot of the new epoch holds the same state.
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

my $K = 3;

my $primary = NetLab::cluster('failover_primary', host => 'db1', allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) SELECT 'fo-' || i FROM generate_series(1, 4) AS i;
});

# standby_of($root, $name, $host, %opts): a streaming standby of $root on $host, fed over
# the lab's network (so that a cut stops it), started and caught up.
sub standby_of
{
	my ($root, $name, $host, %opts) = @_;
	my $backup = "$name-backup";
	$root->backup($backup);
	my $s = NetLab::cluster($name, host => $host, init => 0, %opts);
	$s->init_from_backup($root, $backup, has_streaming => 1);
	NetLab::listen_on_host($s);
	$s->append_conf('postgresql.conf',
		"primary_conninfo = '" . NetLab::tcp_connstr($root) . " application_name=$name'");
	$s->start;
	$root->wait_for_catchup($s);
	return $s;
}

sub flip
{
	my ($node, $name) = @_;
	$node->safe_psql('postgres', "UPDATE toggles.features SET is_active = NOT is_active WHERE name = '$name'");
}

sub epoch_of { return $_[0]->safe_psql('postgres', 'SELECT toggles.epoch()'); }

# state_of(@messages): name => active after applying them (snapshots replace, changes merge).
sub state_of
{
	my %state;
	for my $m (@_)
	{
		next unless ($m->{type} // '') =~ /^(snapshot|change)$/;
		%state = () if $m->{type} eq 'snapshot';
		$state{ $_->{name} } = $_->{active} ? 1 : 0 for @{ $m->{toggles} };
		delete $state{$_} for @{ $m->{removed} // [] };
	}
	return join ',', map { "$_=$state{$_}" } sort keys %state;
}

sub table_of
{
	my ($node) = @_;
	return join ',', split /\n/, $node->safe_psql('postgres',
		q{SELECT name || '=' || is_active::int FROM toggles.features ORDER BY name});
}

my $standby = standby_of($primary, 'failover_standby', 'db2');
my $db1 = NetLab::host('db1');
my $db2 = NetLab::host('db2');
my $p1 = $primary->port;
my $p2 = $standby->port;
my $conninfo = "host=$db1->{ipv4},$db2->{ipv4} port=$p1,$p2 dbname=postgres "
  . 'target_session_attrs=read-write';
my $pushd = PushdHelper->start($primary, db => $conninfo, start_timeout => 30, node => 'follower',
	args => [ '--db-connect-timeout', '2', '--reconnect-min', '200', '--reconnect-max', '1000' ]);

my $e1 = epoch_of($primary);
my $c = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($c, sub { $c->count >= 1 }, 10, 'snapshot'), 'a client has its snapshot');
is($c->message(0)->{epoch}, $e1, "... of epoch $e1");

# --- 1. asynchronous: the lost tail ------------------------------------------------------------
NetLab::cut('db2', 'db1');
flip($primary, "fo-$_") for 1 .. $K;
my $v_told = PushdHelper::current_version($primary);
ok(PushdHelper::all_reached([$c], $v_told, 10), "the client was told $K changes the standby never got (version $v_told)");
my $told = state_of($c->messages);
isnt($told, table_of($standby), '... so what it holds differs from the standby');
my $seen = $c->count;

$primary->stop('immediate');
my $t_promote = time;
$standby->promote;
my $e2 = epoch_of($standby);
like($e2, qr/^\d+-2-/, "the promoted standby starts timeline 2 ($e2)");
ok(PushdHelper::wait_for($c, sub { grep { ($_->{epoch} // '') eq $e2 } $c->messages }, 30,
		'the snapshot of the new epoch'),
	'pushd follows the failover by itself');
diag(sprintf('client had the new epoch %.2f s after the promotion', time - $t_promote));
my @after = ($c->messages)[ $seen .. $c->count - 1 ];
is(scalar(grep { $_->{type} eq 'snapshot' } @after), 1, 'the client got exactly one snapshot');
is($after[0]{type}, 'snapshot', '... as the first message after the failover');
is($after[0]{epoch}, $e2, '... of the new epoch');
is(state_of($c->messages), table_of($standby), '... which no longer holds the lost changes');
ok(!$c->closed, 'the client stayed connected');

# The old primary comes back, unfenced, first in the host list: pushd is made to reconnect
# (its session on the new primary is terminated) and must skip it.
NetLab::heal('db2', 'db1');
$primary->start;
is($primary->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the old primary runs read-write again');
$seen = $c->count;
$standby->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'toggles-pushd'});
ok(PushdHelper::wait_for([], sub { $pushd->log_contents =~ /earlier timeline than \Q$e2\E/ }, 30),
	'pushd refuses the old primary\'s earlier timeline') or diag($pushd->log_contents);
cmp_ok($pushd->metric('pushd_epoch_refusals_total'), '>=', 1, 'pushd_epoch_refusals_total counts it');
ok(PushdHelper::wait_for([], sub {
			$standby->safe_psql('postgres',
				q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'toggles-pushd'}) > 0 }, 30),
	'... and is back on the new primary');
flip($primary, 'fo-4');    # on the superseded history
flip($standby, 'fo-2');
my $v2 = PushdHelper::current_version($standby);
ok(PushdHelper::all_reached([$c], $v2, 15), "a change on the new primary arrives (version $v2)");
@after = ($c->messages)[ $seen .. $c->count - 1 ];
is(scalar(grep { $_->{type} eq 'snapshot' } @after), 0, 'no snapshot: the client never went back to the old epoch');
is(state_of($c->messages), table_of($standby), 'the client holds the new primary\'s table, not the old one\'s write');

# A fresh node knows no history and follows the old primary; a client of the new epoch that
# lands there is told to try again, never sent the old history.
my $stale = PushdHelper->start($primary, node => 'stale', args => [ '--future-wait', '1000' ]);
my $r = PushdHelper::Client->connect($stale->ws_url("/v1/stream?since=$v2&epoch=$e2"));
PushdHelper::wait_for($r, sub { $r->count >= 1 || $r->closed }, 15, 'the stale node\'s answer');
is($r->count, 0, 'a node on the old timeline sends a client of the new one nothing');
is($r->close_code, 1013, '... and closes it with 1013');
$stale->stop;
$primary->stop;

# --- 2. synchronous: nothing a client was told is lost ----------------------------------------
# The new primary gets a synchronous standby on db1, at the old primary's port (which is
# stopped for good), so that pushd's host list still names it.
my $sync = standby_of($standby, 'failover_sync', 'db1', port => $p1);
$standby->append_conf('postgresql.conf', "synchronous_standby_names = '*'");
$standby->reload;
ok(PushdHelper::wait_for([], sub {
			$standby->safe_psql('postgres', q{SELECT sync_state FROM pg_stat_replication}) eq 'sync' }, 30),
	'the standby on db1 is synchronous');
$seen = $c->count;
flip($standby, "fo-$_") for 1 .. $K;
my $v_sync = PushdHelper::current_version($standby);
ok(PushdHelper::all_reached([$c], $v_sync, 10), "the client was told $K synchronous commits (version $v_sync)");
$told = state_of($c->messages);
$standby->stop('immediate');
$sync->promote;
my $e3 = epoch_of($sync);
like($e3, qr/^\d+-3-/, "the synchronous standby starts timeline 3 ($e3)");
ok(PushdHelper::wait_for($c, sub { grep { ($_->{epoch} // '') eq $e3 } $c->messages }, 30,
		'the snapshot of the third epoch'),
	'pushd follows the second failover');
@after = ($c->messages)[ $seen .. $c->count - 1 ];
is(scalar(grep { $_->{type} eq 'snapshot' } @after), 1, 'again exactly one snapshot');
is(state_of($c->messages), $told, 'it holds everything the client was told: nothing lost');
is(table_of($sync), $told, '... which is the new primary\'s table');

is($pushd->stop, 0, 'clean stop');
$sync->stop;
done_testing();
