# The JavaScript client (clients/js) against a real toggles-pushd and PostgreSQL: Node's
# test runner runs tests/js/unit and tests/js/client, each test an assertion here.  The
# cluster runs on the network lab's db1 when there is a lab (pushd reaches it over TCP, and
# the outage test cuts that link); without the lab that one test is skipped.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NetLab;
use NodeTest;
use PushdHelper;

my $pushd = PushdHelper::require_pushd();
NodeTest::require_node();

my $lab = !defined NetLab::missing();
my $node = $lab
  ? NetLab::cluster('js_client', host => 'db1')
  : PostgreSQL::Test::Cluster->new('js_client');
$node->init unless $lab;
$node->start;
note($lab ? 'database on lab host db1, pushd over TCP' : 'no network lab: ' . NetLab::missing());

my %env = (
	TOGGLES_PUSHD => $pushd,
	TOGGLES_JS_PG => $node->connstr,
	TOGGLES_JS_OUT => "$PostgreSQL::Test::Utils::tmp_check/js",
	($lab
		? (TOGGLES_JS_PUSHD_DB => 'host=' . NetLab::address('db1') . ' port=' . $node->port,
			TOGGLES_JS_LAB_HOST => 'db1')
		: ()),
);

my $took = NodeTest::run(\%env,
	(map { "unit/$_" } qw(backoff.test.js store.test.js transport.test.js)),
	(map { "client/$_" } qw(stream.test.js resume.test.js liveness.test.js backoff.test.js
		tokens.test.js outage.test.js)));
diag(join ', ', map { sprintf '%s %.1f s', $_, $took->{$_} } sort keys %$took);

NetLab::heal_all() if $lab;
$node->stop;
done_testing();
