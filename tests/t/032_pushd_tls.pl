# TLS: pushd serves wss:// and https:// with a self-signed certificate made here, reloads
# the certificate on SIGHUP (new handshakes get the new one, connected clients stay), keeps
# the old one when the new files are broken, refuses plain text on its TLS port, and hangs
# up on a client that never finishes the TLS handshake.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use File::Copy qw(copy);
use File::Spec;
use IO::Socket::SSL;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PushdHelper;

PushdHelper::require_pushd();
my ($openssl) = grep { -x } map { "$_/openssl" } File::Spec->path;
plan skip_all => 'the openssl command is missing (scripts/deps.sh installs it)' unless $openssl;

my $node = PostgreSQL::Test::Cluster->new('pushd_tls');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
});

# Two self-signed certificates for 127.0.0.1, and one CA file trusting both (each is its
# own CA), so that clients verify whichever is served.
my $dir = $PostgreSQL::Test::Utils::tmp_check;
for my $name (qw(one two))
{
	system($openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt", '-subj', "/CN=pushd-test-$name",
		'-addext', 'subjectAltName=IP:127.0.0.1', '-loglevel', 'error') == 0
	  or system($openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt", '-subj', "/CN=pushd-test-$name",
		'-addext', 'subjectAltName=IP:127.0.0.1') == 0
	  or die "openssl req failed";
	chmod 0600, "$dir/$name.key";
}
{
	open my $out, '>', "$dir/ca.pem" or die $!;
	print $out PushdHelper::slurp("$dir/one.crt"), PushdHelper::slurp("$dir/two.crt");
	close $out;
}
copy("$dir/one.crt", "$dir/server.crt") or die $!;
copy("$dir/one.key", "$dir/server.key") or die $!;
chmod 0600, "$dir/server.key";

my $pushd = PushdHelper->start($node, tls_ca => "$dir/ca.pem",
	args => [ '--tls-cert', "$dir/server.crt", '--tls-key', "$dir/server.key", '--handshake-timeout', 2 ]);
my $port = $pushd->port;
like($pushd->log_contents, qr{listening on wss://127\.0\.0\.1:$port/v1/stream}, 'the log says wss://');
unlike($pushd->log_contents, qr/without TLS/, 'and has no plain-text warning');

# served_cn: the common name of the certificate a new TLS handshake gets.
sub served_cn
{
	my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port, SSL_ca_file => "$dir/ca.pem",
		SSL_verifycn_name => '127.0.0.1', Timeout => 5) or return "no TLS: $SSL_ERROR";
	my $cn = $s->peer_certificate('cn');
	$s->close;
	return $cn;
}

is(served_cn(), 'pushd-test-one', 'the first certificate is served');
my ($status, undef, $body) = $pushd->http_get('/healthz');
is($status, 200, 'GET https://.../healthz: 200, the certificate verified');
($status) = $pushd->http_get('/v1/toggles');
is($status, 200, 'GET https://.../v1/toggles: 200');

my $early = PushdHelper::Client->connect($pushd->ws_url, tls_ca => "$dir/ca.pem");
ok(PushdHelper::wait_for($early, sub { $early->count >= 1 }, 20, 'a wss snapshot'), 'a wss:// client gets its snapshot');
is(($early->message(0) // {})->{type}, 'snapshot', '... a snapshot');

# Plain text on the TLS port: no answer, and pushd carries on.
{
	my $raw = PushdHelper::RawClient->connect(port => $port);
	my ($st) = $raw->upgrade(timeout => 5);
	isnt($st, '101', "a plain ws:// upgrade on the TLS port is not served ($st)");
	$raw->close;
}
# A TLS handshake never finished: hung up on by --handshake-timeout.
{
	my $m0 = $pushd->metric('pushd_handshake_timeouts_total');
	my $raw = PushdHelper::RawClient->connect(port => $port);
	$raw->send_raw("\x16\x03\x01\x00\xff\x01");    # the start of a ClientHello, then silence
	my $t0 = time;
	my ($st) = $raw->read_http_response(10);
	is($st, 'eof', 'a TLS handshake left unfinished: hung up on');
	cmp_ok(time - $t0, '<', 6, '... within --handshake-timeout (2 s) and some slack');
	cmp_ok($pushd->metric('pushd_handshake_timeouts_total') - $m0, '>=', 1, '... counted in pushd_handshake_timeouts_total');
	$raw->close;
}

# wait_log(re): the daemon's log matches within 10 s.
sub wait_log
{
	my ($re) = @_;
	return PushdHelper::wait_for([], sub { $pushd->log_contents =~ $re }, 10);
}

# --- reload ------------------------------------------------------------------------------------
copy("$dir/two.crt", "$dir/server.crt") or die $!;
copy("$dir/two.key", "$dir/server.key") or die $!;
kill 'HUP', $pushd->pid;
ok(wait_log(qr/TLS certificate .*server\.crt" and key .* loaded/), 'SIGHUP: the certificate is reloaded');
is(served_cn(), 'pushd-test-two', 'new handshakes get the new certificate');
($status) = $pushd->http_get('/healthz');
is($status, 200, 'https still works');
my $late = PushdHelper::Client->connect($pushd->ws_url, tls_ca => "$dir/ca.pem");
ok(PushdHelper::wait_for($late, sub { $late->count >= 1 }, 20, 'a snapshot after the reload'),
	'a wss:// client connecting after the reload gets its snapshot');

$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $v = PushdHelper::current_version($node);
ok(PushdHelper::all_reached([ $early, $late ], $v, 20), 'the client from before the reload and the new one both get the change');
ok(!$early->closed, 'the client from before the reload is still connected');

# A broken certificate is refused and the current one stays.
{
	open my $fh, '>', "$dir/server.crt" or die $!;
	print $fh "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
	close $fh;
}
kill 'HUP', $pushd->pid;
ok(wait_log(qr/TLS reload refused: the certificate .*server\.crt" stays in use/), 'SIGHUP with a broken certificate: refused');
is(served_cn(), 'pushd-test-two', 'the previous certificate is still served');

# A key that does not match the certificate is refused too.
copy("$dir/one.crt", "$dir/server.crt") or die $!;
copy("$dir/two.key", "$dir/server.key") or die $!;
my $before = () = $pushd->log_contents =~ /TLS reload refused/g;
kill 'HUP', $pushd->pid;
ok(PushdHelper::wait_for([], sub { (() = $pushd->log_contents =~ /TLS reload refused/g) > $before }, 10),
	'SIGHUP with a key that does not match: refused');
like($pushd->log_contents, qr/key values mismatch|does not match certificate/, "... saying so");
is(served_cn(), 'pushd-test-two', 'the previous certificate is still served');

# A key readable by others: a warning.
copy("$dir/one.key", "$dir/server.key") or die $!;
chmod 0644, "$dir/server.key";
kill 'HUP', $pushd->pid;
ok(wait_log(qr/TLS key .*server\.key" can be read by group or others/), 'a world-readable key: a warning');
is(served_cn(), 'pushd-test-one', 'and the matching pair is loaded');
chmod 0600, "$dir/server.key";

ok($pushd->alive, 'pushd is running');
$early->close;
$late->close;
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
