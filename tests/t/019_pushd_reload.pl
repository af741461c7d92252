# SIGHUP: the config file is read again and the reloadable settings take effect; a
# setting that needs a restart is named in the log; an invalid file is refused and the
# daemon goes on with what it had.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_reload');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
});

my $conf = "$PostgreSQL::Test::Utils::tmp_check/pushd-reload.conf";
sub write_conf { open my $fh, '>', $conf or die $!; print $fh @_; close $fh; }
write_conf("log-level = info\nlease = 90\n");

my $pushd = PushdHelper->start($node, args => [ '--config', $conf ]);

# wait_log(re): the daemon's log matches re within a few seconds.
sub wait_log
{
	my ($re) = @_;
	my $deadline = time + 10;
	while (time < $deadline)
	{
		return 1 if $pushd->log_contents =~ $re;
		PushdHelper::pump(0.1);    # keeps the client's loop (and its sends) going
	}
	return 0;
}

my $client = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($client, sub { $client->count >= 1 }, 30, 'snapshot'), 'a client is connected');
unlike($pushd->log_contents, qr/ debug /, 'no debug lines at log-level info');

# A reloadable setting (log-level) and one that needs a restart (lease).
write_conf("log-level = debug\nlease = 30\n");
kill 'HUP', $pushd->pid;
ok(wait_log(qr/settings reloaded; changed but needs a restart: lease/),
	'SIGHUP: reloaded, and the restart-only setting is named');
$client->send_text('not json');
ok(wait_log(qr/ debug .*client \d+ .*unknown message/), 'log-level debug took effect');

# An invalid file is refused; the daemon keeps its settings and keeps serving.
write_conf("log-level = loud\n");
kill 'HUP', $pushd->pid;
ok(wait_log(qr/reload refused, settings unchanged: .*log-level/), 'an invalid file is refused, naming the setting');
$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
ok(PushdHelper::wait_for($client, sub { grep { ($_->{type} // '') eq 'change' } $client->messages }, 30, 'change'),
	'the daemon still serves changes after a refused reload');
ok($pushd->alive, 'pushd is running');

is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
