# The daemon under valgrind: 100 clients, a burst of 100 changes, a clean SIGTERM.  No
# memory error, no definite or indirect leak, exit status 0 (valgrind's own error exit
# status is 99 here).  Slow, so every deadline is generous.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();
my ($valgrind) = grep { -x "$_/valgrind" } File::Spec->path;
plan skip_all => 'valgrind is not installed' unless $valgrind;

my $slow = 4 * $PostgreSQL::Test::Utils::timeout_default;
my $clients_n = 100;

my $node = PostgreSQL::Test::Cluster->new('pushd_valgrind');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, description)
	SELECT 'vg-' || lpad(i::text, 2, '0'), 'valgrind ' || i FROM generate_series(1, 20) AS i;
});

my $vg_log = "$PostgreSQL::Test::Utils::tmp_check/pushd-valgrind.log";
my $pushd = PushdHelper->start($node,
	wrapper => [ "$valgrind/valgrind", '--leak-check=full', '--errors-for-leak-kinds=definite,indirect',
		'--error-exitcode=99', '--track-origins=yes', "--log-file=$vg_log" ],
	args          => [ '--heartbeat-interval', '1', '--register-interval', '200' ],
	start_timeout => $slow,
	stop_timeout  => $slow);

my @clients = map { PushdHelper::Client->connect($pushd->ws_url) } 1 .. $clients_n;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, $slow, 'snapshots'),
	"$clients_n clients got their snapshots");

# A mix of single flips, multi-toggle transactions, an insert and a delete.
my @sql = map {
	$_ % 10 == 0 ? "UPDATE toggles.features SET is_active = NOT is_active WHERE name LIKE 'vg-0%';"
	  : $_ == 50 ? "INSERT INTO toggles.features (name, description) VALUES ('vg-new', repeat('n', 3000));"
	  : $_ == 77 ? "DELETE FROM toggles.features WHERE name = 'vg-new';"
	  : sprintf("UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'vg-%02d';", 1 + $_ % 20)
} 1 .. 100;
my $psql = PushdHelper::psql_script_bg($node, 'postgres', join("\n", @sql) . "\n");
is($psql->wait($slow), 0, '100 transactions committed') or diag($psql->output);
my $final = PushdHelper::current_version($node);
ok(PushdHelper::all_reached(\@clients, $final, $slow), "every client reached version $final");

my $model = PushdHelper::LogModel->load($node);
my $table = PushdHelper::state_string(PushdHelper::table_state($node));
my $bad = 0;
for my $c (@clients)
{
	my $r = $model->verify_stream([ $c->messages ]);
	$bad++ if @{ $r->{errors} } || PushdHelper::state_string($r->{state} // {}) ne $table;
}
is($bad, 0, 'every stream checks out against the log and ends at the table');

# Some traffic the daemon refuses, so that its error paths run under valgrind too.
my $rude = PushdHelper::Client->connect($pushd->ws_url);
PushdHelper::wait_for($rude, sub { $rude->count >= 1 }, $slow, 'a snapshot');
$rude->send_text('not json');
PushdHelper::wait_for($rude, sub { $rude->count >= 2 }, $slow, 'the error');
$rude->send_binary('x');
PushdHelper::wait_for($rude, sub { $rude->closed }, $slow, 'the close');
my ($status) = $pushd->http_get('/v1/toggles', undef, $slow);
is($status, 200, 'GET /v1/toggles');
($status) = $pushd->http_get('/metrics', undef, $slow);
is($status, 200, 'GET /metrics');
$clients[$_]->close for 0 .. 9;

is($pushd->stop, 0, 'SIGTERM: exit status 0, not valgrind\'s 99');
ok(PushdHelper::wait_for(\@clients, sub { !grep { !$_->closed } @_ }, 30, 'clients closed'),
	'every client was closed');
my $report = PushdHelper::slurp($vg_log);
my @lines = split /\n/, $report;
like($report, qr/ERROR SUMMARY: 0 errors/, 'valgrind: ERROR SUMMARY: 0 errors')
  or diag("valgrind log $vg_log begins:\n" . join("\n", @lines[ 0 .. ($#lines < 150 ? $#lines : 150) ]));
unlike($report, qr/definitely lost: [1-9]/, 'valgrind: nothing definitely lost');

$node->stop;
done_testing();
