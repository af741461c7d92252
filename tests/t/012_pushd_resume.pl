# Resume: a client that comes back with since=V&epoch=E gets one change holding the net
# effect of what it missed; an unknown epoch, a resume point older than the window, or a
# malformed since gets a snapshot; a client ahead of the node is made to wait up to
# --future-wait, then gets a change if the node caught up, else a close with 1013 (Try
# Again Later), never an older snapshot; a resume at exactly the node's version is
# acknowledged with an empty change.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_resume');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, description) VALUES
		('r-a', 'A'), ('r-b', 'B'), ('r-c', 'C'), ('r-d', 'D');
});

# a: the default window, a short future wait; small: a 10-version window; patient: a
# long future wait.  All three started before the resume points are taken, so what they
# answer depends on their window, not on when they started.
my $a = PushdHelper->start($node, args => [ '--future-wait', '500' ]);
my $small = PushdHelper->start($node, args => [ '--resume-window', '10' ]);
my $patient = PushdHelper->start($node, args => [ '--future-wait', '10000' ]);

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub current { return PushdHelper::current_version($node); }
my $epoch = sql('SELECT toggles.epoch()');

# first_message(daemon, query, timeout): connects with that query string and returns the
# client once it has its first message (or has been closed).
sub first_message
{
	my ($daemon, $query, $timeout) = @_;
	my $c = PushdHelper::Client->connect($daemon->ws_url("/v1/stream$query"));
	PushdHelper::wait_for($c, sub { $c->count >= 1 || $c->closed }, $timeout // 10,
		"the first message for $query");
	return $c;
}

# Everybody has caught up with the database before a client resumes from it.
sub all_caught_up
{
	my $v = current();
	$_->wait_version($v, 10) for ($a, $small, $patient);
	return $v;
}

# --- the client goes away at V -----------------------------------------------------------
my $c = first_message($a, '');
my $v0 = $c->message(0) ? $c->message(0)->{version} : -1;
is($v0, current(), 'the client starts at the current version');
$c->close;

# Five transactions: the net effect is r-new inserted, r-a on, r-b deleted, r-c written
# twice (back to off), r-tmp inserted and deleted again.
sql(q{INSERT INTO toggles.features (name, description) VALUES ('r-new', 'new one')});
sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'r-a'});
sql(q{DELETE FROM toggles.features WHERE name = 'r-b'});
sql(q{BEGIN; UPDATE toggles.features SET is_active = true WHERE name = 'r-c';
	INSERT INTO toggles.features (name) VALUES ('r-tmp'); COMMIT;});
sql(q{BEGIN; UPDATE toggles.features SET is_active = false, description = 'C2' WHERE name = 'r-c';
	DELETE FROM toggles.features WHERE name = 'r-tmp'; COMMIT;});
my $v5 = all_caught_up();

my $r = first_message($a, "?since=$v0&epoch=$epoch");
my $pong = $r->barrier(10);
is(scalar(grep { $_->{type} ne 'pong' } $r->messages), 1, 'resume: exactly one message before the pong');
my $m = $r->message(0) // {};
is($m->{type}, 'change', 'resume within the window: a change');
is($m->{version}, $v5, 'resume: version is the current version');
my %sent = map { $_->{name} => $_ } @{ $m->{toggles} // [] };
is(join(',', sort keys %sent), 'r-a,r-c,r-new', 'resume: toggles are the net effect (r-a, r-c, r-new)');
my $table = PushdHelper::table_state($node);
for my $name (sort keys %sent)
{
	ok(PushdHelper::same_toggle($sent{$name}, $table->{$name}), "resume: $name in its final state")
	  or diag(explain($sent{$name}));
}
my @removed = sort @{ $m->{removed} // [] };
ok(grep({ $_ eq 'r-b' } @removed), 'resume: r-b removed');
ok(!grep({ $_ ne 'r-b' && $_ ne 'r-tmp' } @removed), 'resume: nothing else removed (r-tmp may be)')
  or diag("removed: @removed");
my $model = PushdHelper::LogModel->load($node);
my $check = $model->verify_stream([ $r->messages ], since => $v0);
is_deeply($check->{errors}, [], 'resume: the change checks out against the log');
$r->close;

# Nothing new since: an empty change.
$r = first_message($a, "?since=$v5&epoch=$epoch");
$m = $r->message(0) // {};
is($m->{type}, 'change', 'resume at the current version: a change');
is($m->{version}, $v5, '... with the current version');
is_deeply([ $m->{toggles}, $m->{removed} ], [ [], [] ], '... and empty toggles and removed');
$r->close;

# epoch left out means the current epoch.
$r = first_message($a, "?since=$v0");
$m = $r->message(0) // {};
is($m->{type}, 'change', 'since without epoch: a change');
is($m->{version}, $v5, '... up to the current version');
$r->close;

# Another epoch: start over.
$r = first_message($a, "?since=$v0&epoch=1-1-00000000000000000000000000000000");
$m = $r->message(0) // {};
is($m->{type}, 'snapshot', 'another epoch: a snapshot');
is($m->{epoch}, $epoch, '... of the current epoch');
is($m->{version}, $v5, '... at the current version');
$r->close;

# A malformed since is a fresh start.
for my $bad ('abc', '-1', '1.5', '')
{
	$r = first_message($a, "?since=$bad&epoch=$epoch");
	is(($r->message(0) // {})->{type}, 'snapshot', "since=$bad: a snapshot");
	$r->close;
}

# --- the resume window ---------------------------------------------------------------------
# 25 more transactions: v5 is now out of a 10-version window, not out of the default one.
sql(join "\n", map {
	"UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'r-" . (qw(a c d new))[ $_ % 4 ] . "';"
} 1 .. 25);
my $v30 = all_caught_up();
$model = PushdHelper::LogModel->load($node);
my $v27 = ($model->versions)[-4];    # three transactions ago

$r = first_message($small, "?since=$v5&epoch=$epoch");
$m = $r->message(0) // {};
is($m->{type}, 'snapshot', 'resume-window 10, 25 transactions later: a snapshot');
is($m->{version}, $v30, '... at the current version');
$r->close;

$r = first_message($small, "?since=$v27&epoch=$epoch");
$m = $r->message(0) // {};
is($m->{type}, 'change', 'resume-window 10, 3 transactions later: a change');
is($m->{version}, $v30, '... up to the current version');
is_deeply($model->verify_stream([ $r->messages ], since => $v27)->{errors}, [],
	'... holding exactly those 3 transactions');
$r->close;

$r = first_message($a, "?since=$v5&epoch=$epoch");
$m = $r->message(0) // {};
is($m->{type}, 'change', 'the default window still resumes 25 transactions later');
is_deeply($model->verify_stream([ $r->messages ], since => $v5)->{errors}, [],
	'... with exactly their net effect');
$r->close;

# --- a client ahead of the node --------------------------------------------------------------
# Far ahead (it saw versions this node never had): after --future-wait, closed with 1013,
# never a snapshot that would take it back in time.
my $t0 = time;
$r = first_message($a, '?since=' . ($v30 + 1000) . "&epoch=$epoch", 10);
my $elapsed = time - $t0;
is($r->count, 0, 'a client 1000 versions ahead is sent nothing');
ok($r->closed, '... and closed');
is($r->close_code, 1013, '... with 1013 (Try Again Later)');
cmp_ok($elapsed, '>=', 0.4, '... after --future-wait 500 ms');
cmp_ok($elapsed, '<', 5, '... not much longer');
diag(sprintf('future resume closed after %.2fs (--future-wait 500)', $elapsed));
is($a->metric('pushd_future_closes_total'), 1, 'pushd_future_closes_total counts it');

# At exactly the node's version: the resume acknowledgement, an empty change at once.
$r = first_message($a, "?since=$v30&epoch=$epoch");
$m = $r->message(0) // {};
is($m->{type}, 'change', 'a resume at the current version gets a change at once');
is($m->{version}, $v30, '... at that version');
is_deeply([ $m->{toggles}, $m->{removed} ], [ [], [] ], '... carrying nothing');
ok(!$r->closed, '... and stays open');
$r->close;

# Just ahead: the node catches up within the wait and answers with a change.
my $ahead = $v30 + 1;
$r = PushdHelper::Client->connect($patient->ws_url("/v1/stream?since=$ahead&epoch=$epoch"));
PushdHelper::wait_for($r, sub { $r->is_open || $r->closed }, 10, 'the connection');
PushdHelper::pump(0.3);
is($r->count, 0, 'a client ahead of the node waits');
sql(q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'r-a'});
my $v31 = current();
PushdHelper::wait_for($r, sub { $r->count >= 1 || $r->closed }, 15, 'the answer after catching up');
$m = $r->message(0) // {};
is($m->{type}, 'change', 'once the node has caught up: a change');
is($m->{version}, $v31, '... at the new version');
$model = PushdHelper::LogModel->load($node);
is_deeply($model->verify_stream([ $r->messages ], since => $ahead)->{errors}, [],
	'... holding what changed after the resume point');
$r->close;

is($_->stop, 0, 'SIGTERM: exit status 0') for ($a, $small, $patient);
$node->stop;
done_testing();
