# ListenerHelper — runs tests/tools/toggles_listen against a node and collects the
# payloads it prints, one JSON text per line.
package ListenerHelper;

use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use Test::More;
use FindBin;
use PostgreSQL::Test::Utils;

# start(NODE, DB): a running listener, returned once its LISTEN has taken effect.
sub start
{
	my ($class, $node, $db) = @_;
	my $tool = ($ENV{TOGGLES_TOOLS} // "$FindBin::Bin/../tools") . '/toggles_listen';
	my $self = bless { out => '', err => '', node => $node, db => $db }, $class;
	$self->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$self->{h} = IPC::Run::start([ $tool, $node->connstr($db) ],
		'>', \$self->{out}, '2>', \$self->{err}, $self->{timer});
	$self->{h}->pump until $self->{err} =~ /listening/ || !$self->{h}->pumpable;
	die "toggles_listen did not start: $self->{err}" unless $self->{err} =~ /listening/;
	return $self;
}

# finish: stops the listener (after everything committed before has arrived) and
# returns the payloads as strings, in arrival order.
sub finish
{
	my ($self) = @_;
	$self->{node}->safe_psql($self->{db}, q{NOTIFY toggles, '__stop__'});
	$self->{h}->finish;
	return split /\n/, $self->{out};
}

sub decode { return JSON::PP->new->decode($_[1]); }

1;
