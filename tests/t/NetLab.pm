# NetLab — the network lab for multi-host TAP tests: PostgreSQL clusters on other hosts
# (network namespaces tg-*, built by scripts/netlab.sh) and cuts of their links, through
# the setuid helper tests/tools/netlab_ctl (TOGGLES_NETLAB_CTL).
#
#   NetLab::require_lab();                       # skip_all when the lab is not there
#   my $db = NetLab::cluster('primary', host => 'db1');   # initialised, listens on db1
#   $db->start;
#   my $conn = NetLab::tcp_connstr($db, family => 6, connect_timeout => 2);
#   NetLab::cut('db1', 'root');                  # db1 <-> the test's namespace: a black hole
#   NetLab::heal('db1');                         # every cut of db1 undone
#
# The test itself (and toggles-pushd, unless run through NetLab::command) stays in the
# root namespace, which reaches every host at its address through the bridge; the test's
# own psql calls use the node's Unix socket, which no cut touches.  Whatever a test cut
# is healed when it ends, however it ends.
package NetLab;

use strict;
use warnings;
use Carp;
use File::Path qw(make_path);
use IPC::Run;
use Test::More;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

# The lab's hosts, as scripts/netlab.sh builds them (netlab_ctl.c has the same table).
my %HOSTS = (
	db1  => [ '10.77.0.1',  'fd77::1' ],
	db2  => [ '10.77.0.2',  'fd77::2' ],
	app1 => [ '10.77.0.11', 'fd77::11' ],
	app2 => [ '10.77.0.12', 'fd77::12' ],
	app3 => [ '10.77.0.13', 'fd77::13' ],
);
my @ROOT = ('10.77.0.254', 'fd77::fe');
my $SUBNET4 = '10.77.0.0/24';
my $SUBNET6 = 'fd77::/64';

my %cut_hosts;    # hosts this test cut, healed at the end
my %install;      # host => private install dir whose pg_ctl runs there

sub hosts     { return sort keys %HOSTS; }
sub root_ipv4 { return $ROOT[0]; }
sub root_ipv6 { return $ROOT[1]; }

# host('db1'): { name => 'db1', ns => 'tg-db1', ipv4 => '10.77.0.1', ipv6 => 'fd77::1' }.
sub host
{
	my ($name) = @_;
	my $a = $HOSTS{ $name // '' } or croak "NetLab: no lab host \"" . ($name // '') . '"';
	return { name => $name, ns => "tg-$name", ipv4 => $a->[0], ipv6 => $a->[1] };
}

# address($host, 4|6): that host's address; $host may be 'root'.
sub address
{
	my ($name, $family) = @_;
	my $a = $name eq 'root' ? \@ROOT : [ @{ host($name) }{qw(ipv4 ipv6)} ];
	return $a->[ ($family // 4) == 6 ? 1 : 0 ];
}

sub ctl { return $ENV{TOGGLES_NETLAB_CTL}; }

# missing: why the lab cannot be used, or undef when it can.
sub missing
{
	my $ctl = ctl();
	return 'TOGGLES_NETLAB_CTL is not set (scripts/test.sh sets the lab up when run as root)'
	  unless defined $ctl && $ctl ne '';
	my @gone = grep { !-e "/run/netns/tg-$_" } hosts();
	return "network namespaces missing: @gone (run scripts/netlab.sh up as root)" if @gone;
	return undef;
}

# require_lab: skips the whole test file when the lab is not set up.  A lab that is there
# but whose helper does not work is a broken test environment: that dies instead.
sub require_lab
{
	my $why = missing();
	plan skip_all => "network lab not available: $why" if defined $why;
	my $ctl = ctl();
	die "TOGGLES_NETLAB_CTL=$ctl is not an executable file\n" unless -f $ctl && -x _;
	my @st = stat $ctl;
	die "TOGGLES_NETLAB_CTL=$ctl is not setuid root (owner root, mode 4755)\n"
	  unless $> == 0 || ($st[4] == 0 && ($st[2] & 04000));
	my ($rc, $out) = run_ctl('exec', 'db1', '--', 'true');
	die "netlab_ctl exec db1 -- true failed ($rc): $out\n" if $rc != 0;
	return;
}

# run_ctl(@args): (exit status, stdout and stderr) of the helper; never waits forever.
sub run_ctl
{
	my @cmd = (ctl(), @_);
	my $out = '';
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>&', \$out,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		1;
	};
	return (-1, "@cmd: $@$out") unless $ok;
	return ($? >> 8, $out);
}

# ctl_ok(@args): runs the helper, dies with its output when it fails.
sub ctl_ok
{
	my ($rc, $out) = run_ctl(@_);
	croak "netlab_ctl @_ failed (exit $rc):\n$out" if $rc != 0;
	return $out;
}

# command($host, @cmd): the argv that runs @cmd on that host, as the test's user (for
# IPC::Run, PushdHelper::start's wrapper => [ NetLab::command('app1') ], ...).  The
# setuid helper loses LD_LIBRARY_PATH, TMPDIR, TZDIR and the like on the way (glibc's
# secure mode): pass those as command($host, 'env', "TZDIR=$dir", @cmd).
sub command
{
	my ($name, @cmd) = @_;
	host($name);
	return (ctl(), 'exec', $name, '--', @cmd);
}

# cut($host, @peers): drops every packet between $host and each peer (a host or 'root');
# without peers, all of $host's traffic but loopback.  A black hole: no RST, no ICMP.
sub cut
{
	my ($name, @peers) = @_;
	$cut_hosts{$name} = 1;
	note("netlab: cut $name" . (@peers ? " from @peers" : ' from everything'));
	ctl_ok('cut', $name, @peers);
	return;
}

# heal($host, @peers): undoes those cuts; without peers, every cut of $host.  A cut of
# everything is only undone by a heal without peers.
sub heal
{
	my ($name, @peers) = @_;
	note("netlab: heal $name" . (@peers ? " with @peers" : ''));
	ctl_ok('heal', $name, @peers);
	delete $cut_hosts{$name} unless @peers;
	return;
}

sub heal_all
{
	ctl_ok('heal', $_) for hosts();
	%cut_hosts = ();
	return;
}

# status: every host's rules, for diagnostics.
sub status
{
	my (undef, $out) = run_ctl('status');
	return $out;
}

# A test that dies mid-cut must not leave the next one a cut network.  This END runs
# before Cluster's (modules loaded later end first), so nodes stop on healed links.
END
{
	local $?;
	for my $name (sort keys %cut_hosts)
	{
		my ($rc, $out) = run_ctl('heal', $name);
		print STDERR "# netlab: healing $name at exit failed: $out" if $rc != 0;
	}
}

# install_dir($host): a private install dir for Cluster's install_path: bin/ holds a
# symlink to every program of PostgreSQL's bindir but pg_ctl, which is a wrapper that runs
# the real one on $host, so that the postmaster it starts lives there.  The symlinks
# resolve to the real files, so the programs still find their share/ and lib/ (and
# pg_config reports the real paths): no lib/ is needed here.
sub install_dir
{
	my ($name) = @_;
	return $install{$name} if $install{$name};
	host($name);
	my $bindir = `pg_config --bindir`;
	die "pg_config --bindir failed\n" if $? != 0;
	chomp $bindir;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/netlab_install_$name";
	make_path("$dir/bin");
	opendir my $dh, $bindir or die "$bindir: $!";
	for my $f (grep { !/^\.\.?$/ && $_ ne 'pg_ctl' } readdir $dh)
	{
		symlink("$bindir/$f", "$dir/bin/$f") or die "symlink $dir/bin/$f: $!"
		  unless -l "$dir/bin/$f";
	}
	closedir $dh;
	my $ctl = ctl();
	open my $fh, '>', "$dir/bin/pg_ctl" or die "$dir/bin/pg_ctl: $!";
	print $fh "#!/bin/sh\n",
	  "# pg_ctl on lab host $name (tests/t/NetLab.pm): what it starts runs in tg-$name.\n",
	  "exec '$ctl' exec $name -- '$bindir/pg_ctl' \"\$@\"\n";
	close $fh;
	chmod 0755, "$dir/bin/pg_ctl" or die "chmod $dir/bin/pg_ctl: $!";
	return $install{$name} = $dir;
}

# cluster($name, host => 'db1', init => 1, port => N, %init_opts): a
# PostgreSQL::Test::Cluster whose postmaster runs on that host.  Unless init => 0 it is
# initialised with %init_opts (e.g. allows_streaming => 1) by init_cluster; not started.
# port: a given port (e.g. a node that replaces a stopped one at the same address; their
# Unix sockets share a directory, so both must not run at once); default: a free one.
sub cluster
{
	my ($name, %opts) = @_;
	my $hostname = delete $opts{host} // croak 'NetLab::cluster: host => NAME is required';
	my $init = delete $opts{init} // 1;
	my $port = delete $opts{port};
	host($hostname);
	my $node = PostgreSQL::Test::Cluster->new($name,
		install_path => install_dir($hostname), (defined $port ? (port => $port) : ()));
	$node->{_netlab_host} = $hostname;
	init_cluster($node, %opts) if $init;
	return $node;
}

# node_host($node): the lab host a node of cluster() runs on.
sub node_host
{
	my ($node) = @_;
	return $node->{_netlab_host} // croak 'NetLab: ' . $node->name . ' is not a lab node';
}

# init_cluster($node, %init_opts): $node->init, then listen_on_host.
sub init_cluster
{
	my ($node, %opts) = @_;
	$node->init(%opts);
	listen_on_host($node);
	return;
}

# listen_on_host($node): the node listens on its host's IPv4 and IPv6 addresses besides
# its Unix socket, and trusts the lab's subnets, for connections and replication.  Also
# for a node made by init_from_backup (later lines of the files win over the copied ones).
sub listen_on_host
{
	my ($node) = @_;
	my $h = host(node_host($node));
	$node->append_conf('postgresql.conf', "listen_addresses = '$h->{ipv4},$h->{ipv6}'");
	$node->append_conf('pg_hba.conf', join '',
		map { "host all all $_ trust\nhost replication all $_ trust\n" } $SUBNET4, $SUBNET6);
	return;
}

# tcp_connstr($node, host => NAME, family => 4|6, dbname => 'postgres', %extra): a libpq
# conninfo to the node over TCP at that host's address (default: the node's own host,
# IPv4); %extra are more keywords (connect_timeout => 2, user => ...).
sub tcp_connstr
{
	my ($node, %opts) = @_;
	my $hostname = delete $opts{host} // node_host($node);
	my $family = delete $opts{family} // 4;
	my %kw = (
		host   => address($hostname, $family),
		port   => $node->port,
		dbname => delete $opts{dbname} // 'postgres',
		%opts);
	return join ' ', map { "$_=" . conninfo_quote($kw{$_}) }
	  ((grep { exists $kw{$_} } qw(host port dbname)),
		sort grep { !/^(host|port|dbname)$/ } keys %kw);
}

sub conninfo_quote
{
	my ($v) = @_;
	return $v if $v =~ /^[A-Za-z0-9_.:\/-]+$/;
	$v =~ s/([\\'])/\\$1/g;
	return "'$v'";
}

1;
