# Balancer — several toggles-pushd nodes on network lab hosts behind HAProxy running
# deploy/haproxy.cfg as shipped, and clients that follow a stream across nodes.
#
#   my @nodes = map { Balancer::start_node($db, "app$_") } 1 .. 3;
#   my $lb = Balancer->start(@nodes);           # returns once every node is UP
#   my $f = Balancer::Follower->new($lb->ws_url);  # reconnects with since+epoch by itself
#   Balancer::Follower::verify_all($db_node, [$f, ...], $epoch);
#
# Used by the balancer test (050) and by make chaos (tests/chaos/chaos.pl).
package Balancer;

use strict;
use warnings;
use Carp;
use HTTP::Tiny;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use NetLab;
use PushdHelper;

# The balancer's address in the lab: nodes trust its X-Forwarded-For and let it read metrics.
sub lab_address { return NetLab::root_ipv4(); }

# start_node($db_node, $host, %opts): a pushd on that lab host, over TCP to $db_node, with
# the settings a node behind a balancer gets (docs/deploy.md); %opts as PushdHelper::start
# (args are added after these).
sub start_node
{
	my ($db, $host, %opts) = @_;
	my $balancer = lab_address();
	return PushdHelper->start($db,
		db            => $opts{db} // NetLab::tcp_connstr($db),
		listen_host   => NetLab::address($host, 4),
		wrapper       => [ NetLab::command($host) ],
		node          => $opts{node} // $host,
		start_timeout => 30,
		port          => $opts{port},
		args          => [
			'--trusted-proxies', "$balancer/32",
			'--metrics-allow', "$balancer/32,127.0.0.0/8",
			'--reconnect-min', '200', '--reconnect-max', '1000',
			@{ $opts{args} // [] } ]);
}

sub config
{
	my $top = $ENV{TOGGLES_TOP} // croak 'TOGGLES_TOP is not set';
	my $cfg = "$top/deploy/haproxy.cfg";
	croak "$cfg is missing" unless -r $cfg;
	return $cfg;
}

# start(@nodes): HAProxy with deploy/haproxy.cfg for three nodes, once all are UP.
sub start
{
	my ($class, @nodes) = @_;
	croak 'deploy/haproxy.cfg names three nodes' unless @nodes == 3;
	my $port = PushdHelper::free_port();
	my $stats = PushdHelper::free_port();
	my $log = "$PostgreSQL::Test::Utils::tmp_check/haproxy-$port.log";
	my $self = bless { port => $port, stats => $stats, log => $log, nodes => \@nodes }, $class;
	local %ENV = (%ENV,
		TOGGLES_LISTEN => "127.0.0.1:$port",
		TOGGLES_STATS  => "127.0.0.1:$stats",
		map { ("TOGGLES_NODE$_" => $nodes[ $_ - 1 ]->host . ':' . $nodes[ $_ - 1 ]->port) } 1 .. 3);
	# -db: in the foreground, so that the test owns the process.
	$self->{pid} = PushdHelper::spawn([ 'haproxy', '-db', '-f', config() ], $log);
	note("haproxy on 127.0.0.1:$port (stats $stats, log $log)");
	croak "haproxy did not bring every node UP:\n" . PushdHelper::slurp($log)
	  unless $self->wait_states({ map { ("node$_" => 'UP') } 1 .. 3 }, 30,
		sub { waitpid($self->{pid}, POSIX::WNOHANG()) == 0 });
	return $self;
}

sub port { return $_[0]{port}; }
sub url { return "http://127.0.0.1:$_[0]{port}" . ($_[1] // '/'); }
sub ws_url { return "ws://127.0.0.1:$_[0]{port}" . ($_[1] // '/v1/stream'); }
sub log_contents { return PushdHelper::slurp($_[0]{log}); }

# states: { node1 => 'UP' | 'DOWN' | ..., ... } from the stats page (CSV).
sub states
{
	my ($self) = @_;
	my $res = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$self->{stats}/stats;csv");
	return {} unless $res->{success};
	my %s;
	for (split /\n/, $res->{content})
	{
		my @f = split /,/;
		$s{ $f[1] } = $f[17] if @f > 17 && $f[0] eq 'pushd' && $f[1] =~ /^node\d$/;
	}
	return \%s;
}

# wait_states(\%want, timeout): until each named server has that state (prefix match: a
# server going down shows "UP 1/2" first).
sub wait_states
{
	my ($self, $want, $timeout, $alive) = @_;
	return PushdHelper::wait_for([], sub {
		return 1 if $alive && !$alive->();    # gave up: the caller says why
		my $s = $self->states;
		!grep { ($s->{$_} // '') !~ /^\Q$want->{$_}\E(?:$| )/ } keys %$want;
	}, $timeout, 'haproxy states ' . join(',', map { "$_=$want->{$_}" } sort keys %$want));
}

sub stop
{
	my ($self) = @_;
	return if !$self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { $_[0]->stop; }


# A client that follows the stream across nodes: whenever its connection ends (1001, 1013,
# a refused handshake, a node killed), it connects again through the balancer after a
# short random backoff, with since and epoch of what it has, as a client library would.
package Balancer::Follower;

use strict;
use warnings;
use Time::HiRes qw(time);

my @followers;
my $ticking;

sub new
{
	my ($class, $url, %opts) = @_;
	my $self = bless {
		url       => $url,
		opts      => \%opts,
		clients   => [],
		closes    => [],      # close codes (or "HTTP n" for a refused handshake)
		snapshots => 0,       # first messages of a connection that were snapshots
		resumes   => 0,       # ... that were changes (resumed)
		next_at   => 0,
	}, $class;
	push @followers, $self;
	$ticking //= Mojo::IOLoop->recurring(0.05 => sub { $_->_tick for @followers });
	$self->_connect;
	return $self;
}

sub _connect
{
	my ($self) = @_;
	my ($v, $e) = ($self->last_version, $self->epoch);
	my $q = defined $v ? "?since=$v&epoch=$e" : '';
	push @{ $self->{clients} }, PushdHelper::Client->connect($self->{url} . $q, %{ $self->{opts} });
	$self->{counted} = 0;
}

sub _tick
{
	my ($self) = @_;
	return if $self->{stopped};
	my $c = $self->{clients}[-1];
	if (!$self->{counted} && $c->count > 0)
	{
		$self->{counted} = 1;
		$self->{ $c->message(0)->{type} eq 'snapshot' ? 'snapshots' : 'resumes' }++;
	}
	return unless $c->closed;
	if (!$self->{next_at})
	{
		push @{ $self->{closes} }, $c->close_code // ('HTTP ' . ($c->handshake_status // '?'));
		$self->{next_at} = time + 0.1 + rand(0.4);
		return;
	}
	return if time < $self->{next_at};
	$self->{next_at} = 0;
	$self->_connect;
}

# messages: everything received, across its connections, in order.
sub messages { return map { $_->messages } @{ $_[0]{clients} }; }
sub closes { return @{ $_[0]{closes} }; }
sub connections { return scalar @{ $_[0]{clients} }; }
sub snapshots { return $_[0]{snapshots}; }
sub resumes { return $_[0]{resumes}; }
sub is_open { return $_[0]{clients}[-1]->is_open; }

sub last_version { return PushdHelper::last_version_of($_[0]->messages); }
sub epoch { return PushdHelper::epoch_of($_[0]->messages) // ''; }

sub stop
{
	my ($self) = @_;
	$self->{stopped} = 1;
	$_->close for grep { $_->is_open } @{ $self->{clients} };
}

# verify_all($db_node, \@followers, $epoch): (errors, state) — every follower's whole stream
# checks out against the log (never backwards, nothing lost, exact state) and ends at the
# table; errors name the follower.
sub verify_all
{
	my ($node, $followers, $epoch) = @_;
	my $model = PushdHelper::LogModel->load($node);
	my $table = PushdHelper::state_string(PushdHelper::table_state($node));
	my @bad;
	for my $i (0 .. $#$followers)
	{
		my $r = $model->verify_stream([ $followers->[$i]->messages ], epoch => $epoch);
		push @bad, map { "follower $i: $_" } @{ $r->{errors} };
		push @bad, "follower $i: ends elsewhere"
		  unless PushdHelper::state_string($r->{state} // {}) eq $table;
	}
	return @bad;
}

1;
