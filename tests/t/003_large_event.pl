# Payload sizes: an event under 8000 bytes is sent whole, exactly as documented; a larger
# one is sent as a reference and read whole from toggles.changes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenerHelper;

my $node = PostgreSQL::Test::Cluster->new('large');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_toggles');

my $listener = ListenerHelper->start($node, 'postgres');

# One toggle, and three in one transaction: the tour's examples.
$node->safe_psql('postgres', q{INSERT INTO toggles.features (name, is_active) VALUES ('dark-mode', true)});
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO toggles.features (name, is_active) VALUES ('new-checkout', true), ('beta-banner', false);
	UPDATE toggles.features SET is_active = false WHERE name = 'dark-mode';
	COMMIT;
});

# A 10,000-character description: the payload stays small (descriptions travel in the log).
$node->safe_psql('postgres',
	q{INSERT INTO toggles.features (name, description) VALUES ('long-text', repeat('d', 10000))});

# Around the limit: k toggles with 90-character names in one transaction.
my @sizes = (60 .. 100);
for my $k (@sizes)
{
	$node->safe_psql('postgres', qq{
		INSERT INTO toggles.features (name)
		SELECT 'k$k-' || lpad(i::text, 86 - length('$k'), 'x') FROM generate_series(1, $k) AS i});
}

# 300 toggles with long descriptions in one transaction.
$node->safe_psql('postgres', q{
	INSERT INTO toggles.features (name, is_active, description)
	SELECT 'bulk-' || lpad(i::text, 3, '0'), i % 2 = 0, repeat('A long description. ', 50)
	FROM generate_series(1, 300) AS i});

my @payloads = $listener->finish;
is(scalar(@payloads), 4 + @sizes, 'one notification per transaction');

my ($one, $three, $long) = @payloads[0 .. 2];
is($one, '{"v":1,"version":1,"toggles":[{"name":"dark-mode","active":true}],"removed":[]}',
	'1-toggle payload');
is($three,
	'{"v":1,"version":2,"toggles":[{"name":"beta-banner","active":false},{"name":"dark-mode","active":false},{"name":"new-checkout","active":true}],"removed":[]}',
	'3-toggle payload, sorted by name');
diag(sprintf('payload bytes: 1 toggle %d, 3 toggles %d', length($one), length($three)));
is($long, '{"v":1,"version":3,"toggles":[{"name":"long-text","active":false}],"removed":[]}',
	'a 10,000-character description does not grow the payload');

# Every payload around the limit is either the exact full event (< 8000 bytes) or the
# reference, never anything else, and the switch happens exactly at 8000.
my ($whole, $referenced, $exact) = (0, 0, 1);
for my $i (0 .. $#sizes)
{
	my $k = $sizes[$i];
	my $text = $payloads[ 3 + $i ];
	my $p = ListenerHelper->decode($text);
	my @names = split /\n/, $node->safe_psql('postgres',
		qq{SELECT name FROM toggles.changes WHERE version = $p->{version} ORDER BY name});
	my $full = qq({"v":1,"version":$p->{version},"toggles":[)
	  . join(',', map { qq({"name":"$_","active":false}) } @names) . '],"removed":[]}';
	my $expected = length($full) < 8000 ? $full
	  : qq({"v":1,"version":$p->{version},"ref":true,"count":$k});
	length($full) < 8000 ? $whole++ : $referenced++;
	if ($text ne $expected)
	{
		diag("k=$k: got $text");
		$exact = 0;
	}
	cmp_ok(length($text), '<', 8000, "k=$k: payload under 8000 bytes");
}
ok($exact, 'payloads are the full event below 8000 bytes and the reference above');
ok($whole > 0 && $referenced > 0, "both sides of the limit were exercised ($whole whole, $referenced referenced)");

# The 300-toggle transaction: a reference, and the whole event is in the log.
my $bulk = ListenerHelper->decode($payloads[-1]);
ok($bulk->{ref}, '300-toggle transaction is sent as a reference');
is($bulk->{count}, 300, 'the reference counts the toggles');
is($node->safe_psql('postgres', qq{
	SELECT count(*) || ' ' || count(DISTINCT name) || ' ' || sum(length(new ->> 'description'))
	FROM toggles.changes WHERE version = $bulk->{version}}),
	'300 300 300000', 'the log holds all 300 changes with their descriptions');

$node->stop;
done_testing();
