# Fan-out: 50 clients on one daemon, 500 transactions committed one after another.
# Each client's stream must check out against the change log message by message:
# versions strictly increasing, each change exactly what the transactions since the
# previous message did (coalesced or not), ending at the newest version with the
# table's state.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $clients_n = 50;
my $transactions = 500;

my $node = PostgreSQL::Test::Cluster->new('pushd_fanout');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, description)
	SELECT 'fan-' || lpad(i::text, 2, '0'), 'toggle ' || i FROM generate_series(1, 20) AS i;
});

my $pushd = PushdHelper->start($node);
my $epoch = $node->safe_psql('postgres', 'SELECT toggles.epoch()');

my @clients = map { PushdHelper::Client->connect($pushd->ws_url) } 1 .. $clients_n;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 30, 'every snapshot'),
	"$clients_n clients got their first message");
is(scalar(grep { ($_->message(0) // {})->{type} eq 'snapshot' } @clients), $clients_n,
	'every first message is a snapshot');

# 500 statements in autocommit: 500 transactions.  Mostly one flip, every 7th three
# toggles at once, every 25th an insert and every 50th a delete of it.
my @sql;
for my $i (1 .. $transactions)
{
	my $name = sprintf('fan-%02d', 1 + $i % 20);
	if ($i % 50 == 0)
	{
		push @sql, "DELETE FROM toggles.features WHERE name = 'extra-" . ($i - 25) . "';";
	}
	elsif ($i % 25 == 0)
	{
		push @sql, "INSERT INTO toggles.features (name, is_active) VALUES ('extra-$i', true);";
	}
	elsif ($i % 7 == 0)
	{
		my @names = map { sprintf("'fan-%02d'", 1 + ($i + $_) % 20) } 0 .. 2;
		push @sql, 'UPDATE toggles.features SET is_active = NOT is_active WHERE name IN ('
		  . join(', ', @names) . ');';
	}
	else
	{
		push @sql, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = '$name';";
	}
}
my $start_version = PushdHelper::current_version($node);
my $psql = PushdHelper::psql_script_bg($node, 'postgres', join("\n", @sql) . "\n");
is($psql->wait($PostgreSQL::Test::Utils::timeout_default), 0, "$transactions transactions committed")
  or diag($psql->output);

my $final = $node->safe_psql('postgres', 'SELECT max(version) FROM toggles.changes') + 0;
is($node->safe_psql('postgres', "SELECT count(DISTINCT version) FROM toggles.changes WHERE version > $start_version"),
	$transactions, 'the log holds 500 new transactions');
ok(PushdHelper::all_reached(\@clients, $final, $PostgreSQL::Test::Utils::timeout_default),
	"every client reached the last version $final");

my $model = PushdHelper::LogModel->load($node);
my $table = PushdHelper::state_string(PushdHelper::table_state($node));
my ($all_ok, $all_versions, $coalesced) = (1, 0, 0);
my %committed = map { $_ => 1 } $model->committed_between($start_version, $final);
for my $i (0 .. $#clients)
{
	my $c = $clients[$i];
	my $r = $model->verify_stream([ $c->messages ], epoch => $epoch);
	my @problems = @{ $r->{errors} };
	push @problems, "ends at version " . ($r->{version} // 'none') . ", not $final"
	  unless ($r->{version} // -1) == $final;
	push @problems, 'final state ' . PushdHelper::state_string($r->{state} // {}) . " is not the table's $table"
	  unless PushdHelper::state_string($r->{state} // {}) eq $table;
	push @problems, 'closed with ' . ($c->close_code // '?') if $c->closed;
	if (@problems)
	{
		diag("client $i: $_") for @problems[ 0 .. ($#problems < 4 ? $#problems : 4) ];
		$all_ok = 0;
	}
	my %seen = map { $_->{version} => 1 } $c->stream;
	$all_versions++ unless grep { !$seen{$_} } keys %committed;
	$coalesced += $r->{coalesced};
}
ok($all_ok, "all $clients_n streams check out against the change log (strictly increasing, exact, complete)");
# Coalescing is the protocol's right for a lagging client, so a client that saw fewer
# messages is not a failure as long as its stream checked out above; report it.
diag("$all_versions of $clients_n clients saw every one of the $transactions versions; $coalesced coalesced changes");

my $m = $pushd->metrics;
is($pushd->metric('pushd_clients', $m), $clients_n, "pushd_clients is $clients_n");
is($pushd->metric('pushd_last_version', $m), $final, 'pushd_last_version is the last version');
my $received = 0;
$received += $_->count for @clients;
cmp_ok($pushd->metric('pushd_messages_sent_total', $m) // 0, '>=', $received,
	"pushd_messages_sent_total counts at least the $received messages the clients received");

is($pushd->stop, 0, 'SIGTERM: exit status 0');
ok(PushdHelper::wait_for(\@clients, sub { !grep { !$_->closed } @_ }, 10, 'clients closed'),
	'every client was closed');
is(scalar(grep { ($_->close_code // 0) == 1001 } @clients), $clients_n, 'with 1001 going away');
$node->stop;
done_testing();
