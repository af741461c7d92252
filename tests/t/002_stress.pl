# Concurrency stress: 8 pgbench clients for 30 s write toggles in transactions with
# savepoints, exception blocks and rollbacks, while a listener records every
# notification.  Versions must strictly increase in arrival order, every committed
# transaction must be in exactly one notification carrying exactly what it changed, and
# replaying the notifications must give the table's final state.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenerHelper;

my $seconds = $ENV{TOGGLES_STRESS_SECONDS} // 30;

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name)
	SELECT 'stress-' || lpad(i::text, 2, '0') FROM generate_series(1, 20) AS i;
});
my $start_version = $node->safe_psql('postgres', q{SELECT max(version) FROM toggles.changes});

my $listener = ListenerHelper->start($node, 'postgres');

my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', $seconds,
	  '-f', "$FindBin::Bin/stress.pgbench", $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);
ok($ok, 'pgbench ran without errors') or diag($err);
my ($tps) = $out =~ /tps = ([0-9.]+) \(without initial connection time\)/;
my ($xacts) = $out =~ /number of transactions actually processed: (\d+)/;
diag("stress: $xacts transactions in ${seconds}s, $tps tps");

my @payloads = $listener->finish;

# What committed, from the log: per version, the last entry of each name.
my %logged;
for my $row (split /\n/, $node->safe_psql('postgres', qq{
	SELECT DISTINCT ON (version, name) version, name, operation, coalesce(new ->> 'is_active', '')
	FROM toggles.changes WHERE version > $start_version
	ORDER BY version, name, id DESC}))
{
	my ($version, $name, $op, $active) = split /\|/, $row;
	$logged{$version}{$name} = $op eq 'delete' ? 'removed' : $active;
}

cmp_ok(scalar(@payloads), '>=', 100, 'the stress produced notifications')
  or diag("only " . scalar(@payloads) . " notifications");

my $previous = 0;
my ($increasing, $exact, $unknown, $refs) = (1, 1, 0, 0);
my %seen;
my %state = map { $_ => 'false' } map { sprintf('stress-%02d', $_) } 1 .. 20;
for my $text (@payloads)
{
	my $p = ListenerHelper->decode($text);
	my $v = $p->{version};
	$increasing = 0 if $v <= $previous;
	$previous = $v;
	$seen{$v}++;
	if (!$logged{$v}) { $unknown++; next; }

	my %notified;
	if ($p->{ref})
	{
		# Too big for NOTIFY: the event is read from the log (not expected here).
		$refs++;
		%notified = %{ $logged{$v} };
	}
	else
	{
		$notified{ $_->{name} } = $_->{active} ? 'true' : 'false' for @{ $p->{toggles} };
		$notified{$_} = 'removed' for @{ $p->{removed} };
	}
	my $want = join ',', map { "$_=$logged{$v}{$_}" } sort keys %{ $logged{$v} };
	my $got = join ',', map { "$_=$notified{$_}" } sort keys %notified;
	if ($want ne $got)
	{
		diag("version $v: notified $got, logged $want") if $exact;
		$exact = 0;
	}
	for my $name (keys %notified)
	{
		if ($notified{$name} eq 'removed') { delete $state{$name}; }
		else { $state{$name} = $notified{$name}; }
	}
}

ok($increasing, 'versions strictly increase in arrival order');
is($unknown, 0, 'no notification for a version that is not in the log');
my @missing = grep { !$seen{$_} } keys %logged;
is(scalar(@missing), 0, 'every committed version arrived')
  or diag("missing versions: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
is(scalar(grep { $seen{$_} > 1 } keys %seen), 0, 'no version arrived twice');
ok($exact, 'each notification carries exactly the toggles its transaction changed');
is($refs, 0, 'small transactions never fall back to a reference payload');

my $table = $node->safe_psql('postgres',
	q{SELECT string_agg(name || '=' || is_active, ',' ORDER BY name) FROM toggles.features});
my $replayed = join ',', map { "$_=$state{$_}" } sort keys %state;
is($replayed, $table, 'replaying the notifications gives the final state of the table');

# Rolled-back work left no trace: no log entry outside a committed notification.
is($node->safe_psql('postgres', qq{SELECT count(DISTINCT version) FROM toggles.changes WHERE version > $start_version}),
	scalar(keys %seen), 'the log holds exactly the notified transactions');

$node->stop;
done_testing();
