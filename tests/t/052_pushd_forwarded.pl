# X-Forwarded-For is believed from --trusted-proxies only: its last address (the one the
# proxy added) becomes the client's, for connection rows and --max-connections-per-ip
# (429); from any other address, when it holds no address, or without --trusted-proxies
# (the default), it is ignored.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('forwarded');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION pg_toggles; INSERT INTO toggles.features (name) VALUES ('fw');});
my $pushd = PushdHelper->start($node, args => [
		'--trusted-proxies', '127.0.0.2/32', '--max-connections-per-ip', '2',
		'--register-interval', '50' ]);

# connect_as(local address, X-Forwarded-For): a client, once answered.
sub connect_as
{
	my ($from, $xff) = @_;
	my $c = PushdHelper::Client->connect($pushd->ws_url, local_address => $from,
		headers => { defined $xff ? ('X-Forwarded-For' => $xff) : () });
	PushdHelper::wait_for($c, sub { $c->count > 0 || $c->closed }, 10, "a connection from $from");
	return $c;
}

sub peers
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(host(peer), ',' ORDER BY host(peer)) FROM toggles.connections});
}

my @open;
push @open, connect_as('127.0.0.2', '198.51.100.7, 203.0.113.9');
ok(PushdHelper::wait_for([], sub { peers() eq '203.0.113.9' }, 10),
	'from a trusted proxy: the last address of X-Forwarded-For is the client') or diag(peers());
push @open, connect_as('127.0.0.1', '203.0.113.50');
ok(PushdHelper::wait_for([], sub { peers() eq '127.0.0.1,203.0.113.9' }, 10),
	'from anywhere else the header is ignored: the peer is the socket\'s') or diag(peers());
push @open, connect_as('127.0.0.2', 'not-an-address');
ok(PushdHelper::wait_for([], sub { peers() eq '127.0.0.1,127.0.0.2,203.0.113.9' }, 10),
	'a header without an address leaves the proxy\'s own') or diag(peers());
push @open, connect_as('127.0.0.2', '2001:db8::1');
ok(PushdHelper::wait_for([], sub { peers() =~ /2001:db8::1/ }, 10), 'an IPv6 client address') or diag(peers());

# --max-connections-per-ip 2 counts the forwarded address, through one proxy.
push @open, connect_as('127.0.0.2', '203.0.113.9');
ok($open[-1]->count > 0, 'a second connection of 203.0.113.9 through the proxy is served');
my $third = connect_as('127.0.0.2', '203.0.113.9');
is($third->handshake_status, 429, 'its third is refused with 429');
my $other = connect_as('127.0.0.2', '203.0.113.10');
ok($other->count > 0, 'another client through the same proxy is served');
push @open, $other;
cmp_ok($pushd->metric('pushd_connections_refused_total{limit="max-connections-per-ip"}'), '>=', 1,
	'counted as a per-address refusal');

$_->close for @open;
ok(PushdHelper::wait_for([], sub { peers() eq '' }, 10), 'the connections are gone');
my $plain = PushdHelper->start($node, args => [ '--max-connections-per-ip', '2' ]);
my $c = PushdHelper::Client->connect($plain->ws_url, local_address => '127.0.0.2',
	headers => { 'X-Forwarded-For' => '203.0.113.9' });
PushdHelper::wait_for($c, sub { $c->count > 0 || $c->closed }, 10);
ok(PushdHelper::wait_for([], sub { peers() eq '127.0.0.2' }, 10),
	'with no --trusted-proxies (the default) the header is ignored') or diag(peers());
$c->close;

is($_->stop, 0, 'clean stop') for ($pushd, $plain);
$node->stop;
done_testing();
