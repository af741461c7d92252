# Losing the database: the daemon's sessions are terminated while toggles change, the
# server restarts cleanly, crashes (immediate stop: the UNLOGGED connection rows are
# gone), and the extension is dropped and re-created (a new epoch).  Through all of it
# the clients stay connected and converge on the table, never seeing a version go back
# within an epoch, and a new epoch reaches them as a snapshot.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_db_loss');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	CREATE ROLE pushd_loss LOGIN IN ROLE toggles_pushd;
	INSERT INTO toggles.features (name)
	SELECT 'db-' || lpad(i::text, 2, '0') FROM generate_series(1, 10) AS i;
});

my $node_name = 'loss-node';
my $pushd = PushdHelper->start($node,
	db   => $node->connstr('postgres') . ' user=pushd_loss',
	node => $node_name,
	args => [
		'--reconnect-min', '100', '--reconnect-max', '1000',
		'--heartbeat-interval', '1', '--register-interval', '200', '--lease', '60' ]);

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub flip { sql("UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'db-0$_[0]'"); }

my @clients = map { PushdHelper::Client->connect($pushd->ws_url) } 1 .. 5;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 10, 'snapshots'),
	'5 clients got their snapshots');
my $epoch = sql('SELECT toggles.epoch()');

sub connection_rows
{
	return sql(qq{SELECT count(*) FROM toggles.connections WHERE node = '$node_name'});
}

sub rows_are
{
	my ($n, $what) = @_;
	my $got;
	ok(PushdHelper::wait_for([], sub { ($got = connection_rows()) == $n }, 30), $what)
	  or diag("toggles.connections has $got rows for $node_name");
}

# converged(what): every client holds the table at the current version, its stream
# checks out against the log, and none was closed.
sub converged
{
	my ($what, %opts) = @_;
	my $version = PushdHelper::current_version($node);
	ok(PushdHelper::all_reached(\@clients, $version, 60), "$what: clients reach version $version");
	my $model = PushdHelper::LogModel->load($node);
	my $table = PushdHelper::state_string(PushdHelper::table_state($node));
	my @bad;
	for my $i (0 .. $#clients)
	{
		my @messages = $clients[$i]->messages;
		@messages = @messages[ $opts{from}[$i] .. $#messages ] if $opts{from};
		my $r = $model->verify_stream(\@messages, epoch => $opts{epoch} // $epoch);
		push @bad, map { "client $i: $_" } @{ $r->{errors} };
		push @bad, "client $i: holds " . PushdHelper::state_string($r->{state} // {})
		  unless PushdHelper::state_string($r->{state} // {}) eq $table;
		push @bad, "client $i: closed (" . ($clients[$i]->close_code // '?') . ')'
		  if $clients[$i]->closed;
	}
	is_deeply(\@bad, [], "$what: every stream checks out against the log and ends at the table");
}

rows_are(5, 'a connection row per client');

# --- the daemon's sessions are terminated while toggles change -----------------------------
my $sessions = sql(q{SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity
	WHERE usename = 'pushd_loss'});
is($sessions, 'toggles-pushd', "the daemon's sessions are named toggles-pushd");
for my $round (1 .. 3)
{
	my $killed = sql(q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'toggles-pushd'});
	cmp_ok($killed, '>=', 1, "round $round: terminated $killed pushd session(s)");
	flip($_) for 1 .. 5;
	# Polled between runs of the clients' loop: a test that stops reading for long would
	# rightly be closed as dead by pushd's ping/pong.
	ok(PushdHelper::wait_for([], sub {
				sql(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'toggles-pushd'}) > 0 },
			30), "round $round: the daemon reconnected");
}
converged('after terminated sessions');
cmp_ok($pushd->metric('pushd_reconnects_total') // 0, '>=', 3, 'pushd_reconnects_total counts the reconnects');

# --- a clean restart -------------------------------------------------------------------------
$node->stop;
ok($pushd->wait_health(503, 30), '/healthz: 503 while the database is down');
my $h = $pushd->health;
is($h->{status}, 'unavailable', '/healthz: status unavailable');
is($h->{database}, 'down', '/healthz: database down');
is($pushd->metric('pushd_database_up'), 0, 'pushd_database_up is 0');
PushdHelper::pump(1);
is(scalar(grep { $_->closed } @clients), 0, 'clients stay connected while the database is away');

$node->start;
ok($pushd->wait_health(200, 60), '/healthz: 200 once the database is back');
is($pushd->metric('pushd_database_up'), 1, 'pushd_database_up is 1 again');
flip($_) for 1 .. 3;
converged('after a clean restart');
rows_are(5, 'connection rows are there after a clean restart');

# --- a crash: UNLOGGED connection rows are emptied and must be registered again --------------
$node->stop('immediate');
ok($pushd->wait_health(503, 30), '/healthz: 503 after the crash');
$node->start;
ok($pushd->wait_health(200, 60), '/healthz: 200 after crash recovery');
flip($_) for 4 .. 6;
converged('after crash recovery');
rows_are(5, 'connection rows are registered again after crash recovery');

# --- a new epoch: DROP EXTENSION + CREATE EXTENSION ------------------------------------------
my @before = map { $_->count } @clients;
sql(q{DROP EXTENSION pg_toggles; CREATE EXTENSION pg_toggles;});
my $new_epoch = sql('SELECT toggles.epoch()');
isnt($new_epoch, $epoch, 'the re-created extension has a new epoch');
# The new history starts from scratch; writes give the daemon a notification to act on.
sql(q{INSERT INTO toggles.features (name, is_active) VALUES ('reborn', true), ('db-01', false)});

# new_snapshot_at(client): index of its first snapshot of the new epoch, or undef.
sub new_snapshot_at
{
	my ($c, $i) = @_;
	for my $k ($before[$i] .. $c->count - 1)
	{
		my $m = $c->message($k);
		return $k if $m->{type} eq 'snapshot' && ($m->{epoch} // '') eq $new_epoch;
	}
	return undef;
}
ok(PushdHelper::wait_for(\@clients,
		sub { !grep { !defined new_snapshot_at($clients[$_], $_) } 0 .. $#clients }, 60,
		'snapshots of the new epoch'),
	'every client gets a snapshot with the new epoch');
my @from = map { new_snapshot_at($clients[$_], $_) // 0 } 0 .. $#clients;
is(scalar(grep { my $i = $_; grep { $_->{type} eq 'change' } map { $clients[$i]->message($_) } $before[$i] .. $from[$i] - 1 } 0 .. $#clients),
	0, 'no change of the new epoch arrives before its snapshot');
flip(1);    # db-01 exists again; db-02 does not
my $new_version = PushdHelper::current_version($node);
ok(PushdHelper::wait_for(\@clients, sub {
			!grep { ($_->epoch // '') ne $new_epoch || $_->last_version < $new_version } @_ }, 30,
		'the new epoch\'s changes'),
	'changes of the new epoch arrive after its snapshot');
converged('in the new epoch', from => \@from, epoch => $new_epoch);
cmp_ok($pushd->metric('pushd_epoch_changes_total') // 0, '>=', 1, 'pushd_epoch_changes_total counts it');

is($pushd->stop, 0, 'SIGTERM: exit status 0');
is(connection_rows(), 0, 'SIGTERM removes the node\'s connection rows');
$node->stop;
done_testing();
