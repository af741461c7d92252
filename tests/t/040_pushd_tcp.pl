# The database on another host, over TCP: pushd in the test's namespace reaches a cluster
# in the lab's db1 namespace over IPv4, IPv6 and TLS with verify-full (a certificate made
# here), and through multi-host conninfo whose first host refuses, is read-only, or is a
# black hole (packets dropped: libpq alone would wait minutes for it).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use NetLab;
use PushdHelper;

PushdHelper::require_pushd();
NetLab::require_lab();

my $tls = "$PostgreSQL::Test::Utils::tmp_check/db-tls";
mkdir $tls;
# openssl(@args): runs openssl, dies with its output when it fails.
sub openssl
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', @_ ], '>', \$out, '2>', \$err)
	  or die "openssl @_ failed: $err";
	return $out;
}
openssl(qw(req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lab-ca),
	'-keyout', "$tls/ca.key", '-out', "$tls/ca.crt");
openssl(qw(req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca),
	'-keyout', "$tls/other.key", '-out', "$tls/other.crt");
openssl(qw(req -newkey rsa:2048 -nodes -subj /CN=db1.lab),
	'-keyout', "$tls/server.key", '-out', "$tls/server.csr");
open my $ext, '>', "$tls/san.ext" or die $!;
print $ext "subjectAltName = DNS:db1.lab\n";
close $ext;
openssl(qw(x509 -req -days 2 -CAcreateserial), '-in', "$tls/server.csr",
	'-CA', "$tls/ca.crt", '-CAkey', "$tls/ca.key", '-extfile', "$tls/san.ext",
	'-out', "$tls/server.crt");
chmod 0600, "$tls/server.key";

my $node = NetLab::cluster('tcp_db', host => 'db1');
$node->append_conf('postgresql.conf', qq{
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('tcp-a'), ('tcp-b');
});
my $port = $node->port;
my $db1 = NetLab::host('db1');
my $db2 = NetLab::host('db2');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# serves($pushd, $what): a client gets the snapshot, then a flip committed now.
sub serves
{
	my ($pushd, $what) = @_;
	my $c = PushdHelper::Client->connect($pushd->ws_url);
	ok(PushdHelper::wait_for($c, sub { $c->count >= 1 }, 10, "$what: snapshot"),
		"$what: a client gets the snapshot");
	sql(q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'tcp-a'});
	my $v = PushdHelper::current_version($node);
	ok(PushdHelper::all_reached([$c], $v, 10), "$what: ... and the flip (version $v)");
	$c->close;
}

# backend_of($sql_column): that column of pushd's own session(s) on the server.
sub backend_of
{
	my ($column) = @_;
	return sql(qq{SELECT string_agg(DISTINCT ($column)::text, ',')
		FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s USING (pid)
		WHERE a.application_name = 'toggles-pushd'});
}

# --- IPv4 and IPv6 ----------------------------------------------------------------------------
for my $family (4, 6)
{
	my $pushd = PushdHelper->start($node, db => NetLab::tcp_connstr($node, family => $family, sslmode => "disable"),
		start_timeout => 30);
	my $addr = NetLab::address('db1', $family);
	like($pushd->log_contents, qr/connected to the database \(\Q$addr\E:$port\/postgres\)/,
		"IPv$family: pushd connected over TCP to $addr");
	is(backend_of('host(a.client_addr)'), NetLab::address('root', $family),
		"IPv$family: the server sees pushd at the test host's address, across the bridge");
	serves($pushd, "IPv$family");
	is($pushd->stop, 0, "IPv$family: clean stop");
}

# --- TLS with verify-full ---------------------------------------------------------------------
my $tls_db = "host=db1.lab hostaddr=$db1->{ipv4} port=$port dbname=postgres "
  . "sslmode=verify-full sslrootcert=$tls/ca.crt";
my $pushd = PushdHelper->start($node, db => $tls_db, start_timeout => 30);
like($pushd->log_contents, qr/connected to the database \(db1\.lab:$port\/postgres, TLS\)/,
	'TLS: connected with verify-full');
is(backend_of('s.ssl'), 'true', 'TLS: the server sees pushd\'s session encrypted');
serves($pushd, 'TLS');
is($pushd->stop, 0, 'TLS: clean stop');

# refused(conninfo, log pattern, what): pushd starts, stays unhealthy, and says why.
sub refused
{
	my ($db, $pattern, $what) = @_;
	my $p = PushdHelper->start($node, db => $db, no_wait_healthy => 1,
		args => [ '--reconnect-min', '200', '--reconnect-max', '500' ]);
	ok(PushdHelper::wait_for([], sub { $p->log_contents =~ $pattern }, 10),
		"$what: the log says why") or diag($p->log_contents);
	is($p->health->{http_status}, 503, "$what: /healthz 503");
	my ($status, $headers) = $p->http_get('/v1/toggles');
	is("$status $headers->{'retry-after'}", '503 1',
		"$what: /v1/toggles 503, Retry-After 1 (no snapshot yet, and nothing to wait for)");
	is($p->stop, 0, "$what: clean stop");
}
refused("host=db1.lab hostaddr=$db1->{ipv4} port=$port dbname=postgres sslmode=verify-full "
	  . "sslrootcert=$tls/other.crt",
	qr/certificate verify failed/, 'TLS, a certificate from another CA');
refused("host=wrong.lab hostaddr=$db1->{ipv4} port=$port dbname=postgres sslmode=verify-full "
	  . "sslrootcert=$tls/ca.crt",
	qr/does not match host name "wrong\.lab"/, 'TLS, another host name');

# Sockets libpq replaces within one attempt, often under the closed one's number: pushd
# follows the new one by its inode.  sslmode=allow turned away in plain text retries with
# TLS (the server closes the first socket); sslmode=prefer that cannot use its client
# certificate gives TLS up on a socket where the server, silent, waits for a handshake:
# pushd used to wait on that one until --db-connect-timeout, every time.
$node->safe_psql('postgres', 'CREATE DATABASE sslonly');
$node->safe_psql('sslonly', q{CREATE EXTENSION pg_toggles; INSERT INTO toggles.features (name) VALUES ('ssl-a')});
my $hba = $node->data_dir . '/pg_hba.conf';
my $rules = PushdHelper::slurp($hba);
open my $hfh, '>', $hba or die "$hba: $!";
print $hfh "hostnossl sslonly all all reject\n", $rules;
close $hfh;
$node->reload;
$pushd = PushdHelper->start($node, start_timeout => 30, args => [ '--db-connect-timeout', '5' ],
	db => "host=$db1->{ipv4} port=$port dbname=sslonly sslmode=allow");
like($pushd->log_contents, qr/connected to the database \(\Q$db1->{ipv4}\E:$port\/sslonly, TLS\)/,
	'sslmode=allow turned away in plain text: pushd follows libpq\'s new socket and connects with TLS');
is($pushd->stop, 0, '... clean stop');

mkdir "$tls/locked";
chmod 0, "$tls/locked";
$pushd = PushdHelper->start($node, start_timeout => 30, args => [ '--db-connect-timeout', '3' ],
	db => "host=$db1->{ipv4} port=$port dbname=postgres sslmode=prefer sslcert=$tls/locked/client.crt");
like($pushd->log_contents, qr/connected to the database \(\Q$db1->{ipv4}\E:$port\/postgres\)/,
	'sslmode=prefer that cannot do TLS: connected in plain text on libpq\'s second socket');
unlike($pushd->log_contents, qr/not connected and logged in/, '... at the first attempt');
is($pushd->stop, 0, '... clean stop');
chmod 0700, "$tls/locked";

# --- multi-host: the first host refuses, is read-only, is a black hole -----------------------
# timed_start(conninfo, args): a daemon and the seconds it took to become healthy.
sub timed_start
{
	my ($db, @args) = @_;
	my $t0 = time;
	my $p = PushdHelper->start($node, db => $db, start_timeout => 60, args => \@args);
	return ($p, time - $t0);
}

# Nothing listens on db2: its kernel answers the SYN with a reset.
my ($p, $elapsed) = timed_start("host=$db2->{ipv4},$db1->{ipv4} port=$port dbname=postgres");
like($p->log_contents,
	qr/database host \Q$db2->{ipv4}\E:$port: .*refused.*; trying the next host/,
	'multi-host, first host down: refused, next host');
cmp_ok($elapsed, '<', 5, sprintf('... healthy in %.2f s', $elapsed));
serves($p, 'multi-host, first host down');
$p->stop;

# A read-only server first, with target_session_attrs=read-write: skipped.
my $ro = NetLab::cluster('tcp_ro', host => 'db2');
$ro->append_conf('postgresql.conf', 'default_transaction_read_only = on');
$ro->start;
($p, $elapsed) = timed_start("host=$db2->{ipv4},$db1->{ipv4} port=" . $ro->port . ",$port "
	  . 'dbname=postgres target_session_attrs=read-write');
like($p->log_contents, qr/database host \Q$db2->{ipv4}\E:\d+: .*read-only.*; trying the next host/,
	'multi-host, read-only first host: skipped for read-write');
like($p->log_contents, qr/connected to the database \(\Q$db1->{ipv4}\E:$port/,
	'... connected to the primary');
$p->stop;
$ro->stop;

# db2 drops every packet: a connect there never ends by itself.
NetLab::cut('db2');
($p, $elapsed) = timed_start("host=$db2->{ipv4},$db1->{ipv4} port=$port dbname=postgres",
	'--db-connect-timeout', '2');
like($p->log_contents,
	qr/database host \Q$db2->{ipv4}\E:$port: not connected and logged in within 2 s; trying the next host/,
	'multi-host, black-holed first host: given up after --db-connect-timeout');
cmp_ok($elapsed, '>=', 1.8, sprintf('... healthy after %.2f s, not before the timeout', $elapsed));
cmp_ok($elapsed, '<', 10, '... nor long after it');
cmp_ok($p->metric('pushd_database_timeouts_total'), '>=', 1, '... counted in pushd_database_timeouts_total');
serves($p, 'multi-host, black-holed first host');
$p->stop;

# The conninfo's connect_timeout wins over --db-connect-timeout.
($p, $elapsed) = timed_start("host=$db2->{ipv4},$db1->{ipv4} port=$port dbname=postgres connect_timeout=1",
	'--db-connect-timeout', '60');
like($p->log_contents, qr/not connected and logged in within 1 s; trying the next host/,
	'connect_timeout=1 in --db wins over --db-connect-timeout 60');
cmp_ok($elapsed, '<', 10, sprintf('... healthy after %.2f s', $elapsed));
$p->stop;
NetLab::heal('db2');

$node->stop;
done_testing();
