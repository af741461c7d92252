# The network lab itself (scripts/netlab.sh, tests/tools/netlab_ctl.c, NetLab.pm): a
# cluster on host db1 answers over TCP, IPv4 and IPv6, from the test's namespace; its
# postmaster really runs in tg-db1; cuts are black holes (a connect times out, it is not
# refused) for exactly the peers named, the Unix socket keeps working through them, and
# heals restore the links.  The helper refuses what is not a lab host and runs commands
# as the caller.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Errno qw(ETIMEDOUT);
use IO::Socket::IP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NetLab;

NetLab::require_lab();

my $node = NetLab::cluster('lab', host => 'db1');
$node->start;
my $db1 = NetLab::host('db1');
is_deeply($db1, { name => 'db1', ns => 'tg-db1', ipv4 => '10.77.0.1', ipv6 => 'fd77::1' },
	'NetLab::host describes db1');

# run(\@cmd): (exit status, stdout, stderr), with a deadline.
sub run
{
	my ($cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	chomp $out;
	return ($? >> 8, $out, $err);
}

# tcp_sql($sql, %conn): psql over TCP from the test's namespace, or from a lab host with
# from => NAME; (exit status, output, stderr).  connect_timeout 2 s, libpq's minimum.
sub tcp_sql
{
	my ($sql, %opts) = @_;
	my $from = delete $opts{from};
	my $conn = NetLab::tcp_connstr($node, connect_timeout => 2, %opts);
	my @psql = ('psql', '-XAtq', '-d', $conn, '-c', $sql);
	return run([ $from ? NetLab::command($from, @psql) : @psql ]);
}

# reaches(%opts): psql over TCP gets an answer.
sub reaches
{
	my ($rc, $out) = tcp_sql('SELECT 1', @_);
	return $rc == 0 && $out eq '1';
}

# connect_outcome($family): 'connected', 'timeout' (after about 2 s) or the error, of a
# plain TCP connect from here to the node.
sub connect_outcome
{
	my ($family) = @_;
	my $t0 = time;
	my $s = IO::Socket::IP->new(
		PeerHost => NetLab::address('db1', $family),
		PeerPort => $node->port,
		Timeout  => 2);
	my $errno = $! + 0;
	return 'connected' if $s;
	return sprintf('timeout after %.1f s', time - $t0) if $errno == ETIMEDOUT;
	return "error: $!";
}

sub unix_ok { return $node->safe_psql('postgres', 'SELECT 42') eq '42'; }

# --- reaching the host ------------------------------------------------------------------
ok(unix_ok(), 'Unix socket: the node answers');
my ($rc, $out) = tcp_sql('SELECT inet_server_addr(), inet_client_addr()', family => 4);
is($out, '10.77.0.1|10.77.0.254', 'TCP IPv4: db1 answers at 10.77.0.1, the test comes from the bridge');
($rc, $out) = tcp_sql('SELECT inet_server_addr(), inet_client_addr()', family => 6);
is($out, 'fd77::1|fd77::fe', 'TCP IPv6: db1 answers at fd77::1');
($rc, $out) = tcp_sql('SELECT inet_client_addr()', from => 'app1');
is($out, '10.77.0.11', 'another host (app1) reaches db1 directly');

# --- the postmaster is in tg-db1 --------------------------------------------------------
my $pid = $node->{_pid};
my $ours = readlink '/proc/self/ns/net';
my $its = readlink "/proc/$pid/ns/net";
ok(defined $its && $its =~ /^net:\[\d+\]$/, "the postmaster's namespace is readable ($its)");
isnt($its, $ours, 'the postmaster is not in the test\'s network namespace');
my ($ns_rc, $db1_ns) = run([ NetLab::command('db1', 'readlink', '/proc/self/ns/net') ]);
is($its, $db1_ns, 'it is in tg-db1\'s');
my ($id_rc, $ids) = run([ NetLab::command('db1', 'sh', '-c', 'echo $(id -u) $(id -g)') ]);
is($ids, "$< " . (split ' ', $()[0], 'netlab_ctl exec runs the command as the caller');

# --- cut of everything ------------------------------------------------------------------
NetLab::cut('db1');
like(connect_outcome(4), qr/^timeout after (1\.9|2\.\d)/, 'cut db1: a TCP connect times out (no RST)');
like(connect_outcome(6), qr/^timeout/, 'cut db1: over IPv6 as well');
($rc, $out, my $err) = tcp_sql('SELECT 1');
isnt($rc, 0, 'cut db1: psql over TCP fails');
like($err, qr/timeout expired/, 'cut db1: psql gives up on connect_timeout');
ok(!reaches(from => 'app1'), 'cut db1: app1 cannot reach it either');
ok(unix_ok(), 'cut db1: the Unix socket keeps working');
like(NetLab::status(), qr/cutif \{.*?elements = \{ "eth0" \}/s, 'status shows the cut');
NetLab::heal('db1');
ok(reaches(family => 4) && reaches(family => 6), 'heal db1: TCP works again, both families');
ok(reaches(from => 'app1'), 'heal db1: app1 reaches it again');

# --- cuts of peers ----------------------------------------------------------------------
NetLab::cut('db1', 'root');
like(connect_outcome(4), qr/^timeout/, 'cut db1 root: the root namespace times out');
ok(!reaches(family => 6), 'cut db1 root: over IPv6 too');
ok(reaches(from => 'app1'), 'cut db1 root: app1 still reaches db1');
NetLab::cut('db1', 'app1');
ok(!reaches(from => 'app1'), 'cut db1 app1: now app1 does not');
ok(reaches(from => 'app2'), 'cut db1 app1: app2 does');
NetLab::heal('db1', 'root');
ok(reaches(), 'heal db1 root: the root namespace reaches db1 again');
ok(!reaches(from => 'app1'), 'heal db1 root: app1 is still cut');
NetLab::heal('db1', 'db2');
ok(!reaches(from => 'app1'), 'healing a peer that was not cut changes nothing');
NetLab::heal('db1');
ok(reaches(from => 'app1'), 'heal db1: app1 reaches db1 again');
NetLab::cut('app1', 'db1');
ok(!reaches(from => 'app1') && reaches(), 'a cut on the other end (app1 from db1) works alike');
NetLab::heal_all();
ok(reaches(from => 'app1'), 'heal_all heals every host');
unlike(NetLab::status(), qr/elements =/, 'status: no cut left');

# --- refusals ---------------------------------------------------------------------------
my ($ref_rc, $ref_out) = NetLab::run_ctl('exec', 'init', '--', 'true');
is($ref_rc, 2, 'exec in a namespace that is not tg-*: exit 2');
like($ref_out, qr/refused: "init" is not a lab host/, '... with a clear message');
($ref_rc) = NetLab::run_ctl('exec', 'tg-nosuch', '--', 'true');
is($ref_rc, 2, 'exec in an unknown tg- name: exit 2');
($ref_rc) = NetLab::run_ctl('cut', 'db1', '../../proc/1/ns/net');
is($ref_rc, 2, 'cut from something that is not a host: exit 2');
($ref_rc) = NetLab::run_ctl('cut', 'db1', 'db1');
is($ref_rc, 2, 'cut of a host from itself: exit 2');
($ref_rc) = NetLab::run_ctl('exec', 'db1', 'true');
is($ref_rc, 2, 'exec without --: exit 2');

$node->stop;
done_testing();
