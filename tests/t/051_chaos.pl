# Chaos: clients through HAProxy onto three pushd nodes (lab hosts app1-3), the database
# on db1, a writer committing transactions of one to three toggles all along, and faults
# one after another, drawn from a seeded random generator: a node killed (SIGKILL) and
# restarted, a node frozen (SIGSTOP), a node cut from the database, pushd's backends
# terminated, PostgreSQL crashed and restarted.  Every client follows its stream across
# nodes (resuming with since+epoch).  Per fault: the time until every client had what was
# committed when it ended.  At the end: no client saw a version go backwards, none missed
# a change, each stream checks out against the log.
#
# make test runs 90 s with a fixed seed; `make chaos` runs longer with a new seed, printed
# so that its fault schedule can be replayed: make chaos CHAOS_SEED=N [CHAOS_SECONDS=S].
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NetLab;
use PushdHelper;
use Balancer;

PushdHelper::require_pushd();
NetLab::require_lab();
$ENV{PATH} .= ':/usr/sbin';
plan skip_all => 'haproxy is not installed (scripts/deps.sh installs it)'
  unless grep { -x "$_/haproxy" } split /:/, $ENV{PATH};

my $SEED = $ENV{CHAOS_SEED} || 20261202;
my $SECONDS = $ENV{CHAOS_SECONDS} || 90;
my $CLIENTS = 24;
srand($SEED);
# The schedule is drawn before anything else uses rand (the clients' backoff does), so
# that a seed always means the same faults, targets and durations.
my @kinds = ('kill node', 'freeze node', 'partition node from database', 'terminate backends',
	'crash database');
my @schedule = map {
	{ kind => $kinds[ int(rand(@kinds)) ], node => int(rand(3)), pause => 2 + rand(4), hold => rand(1) }
} 1 .. 200;

diag("chaos seed $SEED, $SECONDS s (replay: make chaos CHAOS_SEED=$SEED CHAOS_SECONDS=$SECONDS)");

my $db = NetLab::cluster('chaos_db', host => 'db1');
$db->start;
$db->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) SELECT 'chaos-' || lpad(i::text, 2, '0') FROM generate_series(1, 20) AS i;
});
my $epoch = $db->safe_psql('postgres', 'SELECT toggles.epoch()');
sub version_now { return PushdHelper::current_version($db); }

# Short timings, so that a partition of a few seconds runs through detection and the
# grace: its clients move to the other nodes.
my @node_args = ('--db-probe-interval', '1', '--db-timeout', '2', '--outage-grace', '3',
	'--outage-close-spread', '1', '--future-wait', '2000', '--max-connections-per-ip', '0');
my @nodes = map { Balancer::start_node($db, "app$_", args => \@node_args) } 1 .. 3;
my $lb = Balancer->start(@nodes);
my @f = map { Balancer::Follower->new($lb->ws_url) } 1 .. $CLIENTS;
ok(PushdHelper::wait_for([], sub { !grep { !defined $_->last_version } @f }, 30, 'snapshots'),
	"$CLIENTS clients through the balancer have their snapshots");

# The writer (chaos_writer.sh): transactions of one to three toggles, all along.
my $writer = PushdHelper::Background->start(
	[ 'bash', "$FindBin::Bin/chaos_writer.sh", $SECONDS + 2, $db->connstr('postgres') ],
	"$PostgreSQL::Test::Utils::tmp_check/chaos-writer.log");

# --- the faults ---------------------------------------------------------------------------
my @report;
my $t_end = time + $SECONDS;

# restart_node($i): node $i again, at its address (the balancer's config names it).
sub restart_node
{
	my ($i) = @_;
	my $old = $nodes[$i];
	$nodes[$i] = Balancer::start_node($db, $old->name, port => $old->port, args => \@node_args);
}

# Each fault: what it does to its target, for long (hold 0..1 scales its duration).
my %faults = (
	'kill node' => sub {
		my ($i, $hold) = @_;
		$nodes[$i]->kill9;
		PushdHelper::pump(1 + 2 * $hold);
		restart_node($i);
		return $nodes[$i]->name;
	},
	'freeze node' => sub {
		my ($i, $hold) = @_;
		kill 'STOP', $nodes[$i]->pid;
		PushdHelper::pump(3 + 3 * $hold);
		kill 'CONT', $nodes[$i]->pid;
		return $nodes[$i]->name;
	},
	'partition node from database' => sub {
		my ($i, $hold) = @_;
		my $host = $nodes[$i]->name;
		NetLab::cut($host, 'db1');
		PushdHelper::pump(4 + 6 * $hold);
		NetLab::heal($host, 'db1');
		return $host;
	},
	'terminate backends' => sub {
		my $n = $db->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'toggles-pushd'});
		return "$n sessions";
	},
	'crash database' => sub {
		my ($i, $hold) = @_;
		$db->stop('immediate');
		PushdHelper::pump(0.5 + 1.5 * $hold);
		$db->start;
		return 'postgres';
	},
);

for my $step (@schedule)
{
	last if time > $t_end - 10;
	PushdHelper::pump($step->{pause});
	my @snap_before = map { $_->snapshots } @f;
	my @res_before = map { $_->resumes } @f;
	my $t0 = time;
	my $target = $faults{ $step->{kind} }->($step->{node}, $step->{hold});
	my $fault_s = time - $t0;
	# Converged: every client has what was committed when the fault ended.
	my $v = version_now();
	my $t1 = time;
	my $ok = PushdHelper::wait_for([], sub { !grep { ($_->last_version // -1) < $v } @f }, 60);
	my ($snapshots, $resumes) = (0, 0);
	$snapshots += $f[$_]->snapshots - $snap_before[$_] for 0 .. $#f;
	$resumes += $f[$_]->resumes - $res_before[$_] for 0 .. $#f;
	push @report, {
		kind => $step->{kind}, target => $target, fault_s => $fault_s,
		converge_s => $ok ? time - $t1 : undef, snapshots => $snapshots, resumes => $resumes };
}

# --- the end: the writer stops, everybody converges, every stream is checked -------------
is($writer->wait($SECONDS + 30), 0, 'the writer ran to its end');
my $final = version_now();
my $transactions = $db->safe_psql('postgres', 'SELECT count(DISTINCT version) FROM toggles.changes') - 1;
cmp_ok($transactions, '>=', 5 * $SECONDS, "the writer committed $transactions transactions meanwhile");
ok(PushdHelper::wait_for([], sub { !grep { ($_->last_version // -1) < $final } @f }, 60),
	"every client reaches the final version $final");

my ($backwards, $missed) = (0, 0);
for my $fl (@f)
{
	my $last = -1;
	my $back = 0;
	for my $m ($fl->messages)
	{
		next unless ($m->{type} // '') =~ /^(snapshot|change)$/;
		$back = 1 if $m->{version} < $last;
		$last = $m->{version};
	}
	$backwards += $back;
	$missed++ if $last < $final;
}
is($backwards, 0, 'no client saw a version go backwards');
is($missed, 0, 'no client missed a change at the end');
is_deeply([ Balancer::Follower::verify_all($db, \@f, $epoch) ], [],
	'every stream checks out against the log and ends at the table');

my ($resumes, $snapshots, $connections) = (0, 0, 0);
for (@f) { $resumes += $_->resumes; $snapshots += $_->snapshots; $connections += $_->connections; }
my @lines = sprintf('%-30s %-12s %8s %10s %8s %9s', 'fault', 'target', 'lasted s', 'converge s',
	'resumes', 'snapshots');
push @lines, map {
	sprintf('%-30s %-12s %8.1f %10s %8d %9d', $_->{kind}, $_->{target}, $_->{fault_s},
		defined $_->{converge_s} ? sprintf('%.2f', $_->{converge_s}) : 'never', $_->{resumes},
		$_->{snapshots})
} @report;
push @lines, sprintf('seed %d, %d s: %d faults, %d transactions committed, %d clients, %d connections '
	  . '(%d resumes, %d snapshots of which %d first), backwards %d, missed %d',
	$SEED, $SECONDS, scalar(@report), $transactions, $CLIENTS, $connections, $resumes, $snapshots,
	$CLIENTS, $backwards, $missed);
diag($_) for @lines;
open my $rep, '>', "$PostgreSQL::Test::Utils::tmp_check/chaos-report.txt" or die $!;
print $rep "$_\n" for @lines;
close $rep;
cmp_ok(scalar(@report), '>=', 3, scalar(@report) . ' faults injected');
is(scalar(grep { !defined $_->{converge_s} } @report), 0, 'every fault was followed by convergence');

$_->stop for @f;
$lb->stop;
$_->stop for @nodes;
$db->stop;
done_testing();
