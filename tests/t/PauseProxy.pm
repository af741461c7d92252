# PauseProxy — a TCP relay on 127.0.0.1 that a test can pause: while paused it moves no
# byte either way and the connections stay open, so each side sees a link that is up and
# silent.  A toggles-pushd whose database link runs through one falls behind without
# knowing it (set its --db-probe-interval and --db-timeout above the pause), as a node
# whose notifications are held up somewhere; resume lets everything through in order.
#
#   my $proxy = PauseProxy->start($target_port);
#   ... "host=127.0.0.1 port=" . $proxy->port ...
#   $proxy->pause; ...; $proxy->resume; ...; $proxy->stop;
package PauseProxy;

use strict;
use warnings;
use Carp;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);

# start($target_port): the relay, in a child process, listening on a free port.
sub start
{
	my ($class, $target) = @_;
	my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
		ReuseAddr => 1) or croak "PauseProxy: listen: $!";
	my $port = $listen->sockport;
	my $pid = fork // croak "PauseProxy: fork: $!";
	if ($pid == 0)
	{
		relay($listen, $target);
		POSIX::_exit(0);
	}
	close $listen;
	return bless { pid => $pid, port => $port }, $class;
}

sub port { return $_[0]{port}; }

# pause and resume: the child acts on the signal at once; the short sleep covers its
# delivery, so that what the test does next happens on the paused (or resumed) link.
sub pause { my ($self) = @_; kill 'USR1', $self->{pid}; sleep 0.2; return $self; }
sub resume { my ($self) = @_; kill 'USR2', $self->{pid}; sleep 0.05; return $self; }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
	return;
}

sub DESTROY { my ($self) = @_; $self->stop if $self->{pid}; return; }

# relay: the child's loop.  Paused, it waits on the listening socket alone (a readable
# connection would otherwise wake it at once, forever).
sub relay
{
	my ($listen, $target) = @_;
	my $paused = 0;
	my $done = 0;
	local $SIG{USR1} = sub { $paused = 1 };
	local $SIG{USR2} = sub { $paused = 0 };
	local $SIG{TERM} = sub { $done = 1 };
	my $all = IO::Select->new($listen);
	my $only_listen = IO::Select->new($listen);
	my %peer;
	while (!$done)
	{
		my @ready = ($paused ? $only_listen : $all)->can_read(0.05);
		for my $s (@ready)
		{
			if ($s == $listen)
			{
				my $c = $listen->accept or next;
				my $u = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$target") or do { close $c; next };
				$peer{$c} = $u;
				$peer{$u} = $c;
				$all->add($c, $u);
				next;
			}
			next if $paused || !$peer{$s};
			my $n = sysread($s, my $buf, 65536);
			my $other = $peer{$s};
			if (!$n)
			{
				$all->remove($s, $other);
				delete @peer{ $s, $other };
				close $s;
				close $other;
				next;
			}
			while (length $buf)
			{
				my $w = syswrite($other, $buf);
				last unless defined $w;
				substr($buf, 0, $w, '');
			}
		}
	}
	return;
}

1;
