# The live console (GET /, pushd/console/) in Debian's Chromium, driven by playwright-core
# against a real toggles-pushd and PostgreSQL (tests/js/console).  Screenshots of each
# state are written to tmp_check/js/console-*.png; with TOGGLES_CONSOLE_SHOT=FILE the one
# docs/console.png shows is copied there (make console-screenshot).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NodeTest;
use PushdHelper;

my $pushd = PushdHelper::require_pushd();
NodeTest::require_node();
my $chromium = $ENV{TOGGLES_CHROMIUM} // '/usr/bin/chromium';
plan skip_all => "$chromium is not installed (scripts/deps.sh installs chromium)" unless -x $chromium;

my $node = PostgreSQL::Test::Cluster->new('console_browser');
$node->init;
$node->start;

my $took = NodeTest::run({
		TOGGLES_PUSHD => $pushd,
		TOGGLES_JS_PG => $node->connstr,
		TOGGLES_JS_OUT => "$PostgreSQL::Test::Utils::tmp_check/js",
		TOGGLES_CHROMIUM => $chromium,
		(defined $ENV{TOGGLES_CONSOLE_SHOT} ? (TOGGLES_CONSOLE_SHOT => $ENV{TOGGLES_CONSOLE_SHOT}) : ()),
	},
	'console/console.test.js');
diag(join ', ', map { sprintf '%s %.1f s', $_, $took->{$_} } sort keys %$took);

$node->stop;
done_testing();
