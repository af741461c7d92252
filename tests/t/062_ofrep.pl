# OFREP (docs/openfeature.md) against a real toggles-pushd and PostgreSQL: Node's test runner
# runs tests/js/ofrep — OpenFeature's server SDK with its generic OFREP provider from npm,
# unmodified, the protocol's answers as raw HTTP, and OpenFeature's web SDK with its OFREP
# web provider in Debian's Chromium (event stream, polling off) — each test an assertion here.  The
# raw-HTTP file runs the sanitized daemon when scripts/test.sh hands it over
# (TOGGLES_PUSHD_ASAN), and fails on any report or leak.
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

my $node = PostgreSQL::Test::Cluster->new('ofrep');
$node->init;
$node->start;

my $asan = $ENV{TOGGLES_PUSHD_ASAN} // '';
$asan = '' unless -x $asan;
note($asan ? "http.test.js runs the sanitized daemon $asan" : 'no TOGGLES_PUSHD_ASAN: the plain daemon throughout');

my %env = (
	TOGGLES_PUSHD => $pushd,
	TOGGLES_JS_PG => $node->connstr,
	TOGGLES_JS_OUT => "$PostgreSQL::Test::Utils::tmp_check/js",
	TOGGLES_DOCS => "$FindBin::Bin/../../docs",
);
my %took = (
	%{ NodeTest::run(
		{ %env, ($asan
			? (TOGGLES_PUSHD => $asan, TOGGLES_OFREP_ASAN => 1,
				ASAN_OPTIONS => 'detect_leaks=1:abort_on_error=0:exitcode=99')
			: ()) },
		'ofrep/http.test.js') },
	%{ NodeTest::run(\%env, 'ofrep/provider.test.js') });
my $chromium = $ENV{TOGGLES_CHROMIUM} // '/usr/bin/chromium';
if (-x $chromium)
{
	%took = (%took, %{ NodeTest::run({ %env, TOGGLES_CHROMIUM => $chromium }, 'ofrep/web.test.js') });
}
else
{
	Test::More->builder->skip("ofrep/web.test.js: $chromium is not installed (scripts/deps.sh installs chromium)");
}
diag(join ', ', map { sprintf '%s %.1f s', $_, $took{$_} } sort keys %took);

$node->stop;
done_testing();
