# GET /v1/events (Server-Sent Events, docs/protocol.md) against a real toggles-pushd and
# PostgreSQL: tests/js/sse runs a browser EventSource in Debian's Chromium (playwright-core,
# no browser downloaded) and reads the stream raw — snapshot, a flip, pushd SIGKILLed and
# restarted (resumed through Last-Event-ID with a change), heartbeats from the sweep, 401
# and 400, and the database cut through a relay (retry:, never closed for good).  With
# TOGGLES_PUSHD_ASAN the daemon under test is the sanitized one.  Then, with the plain
# daemon (its times are the ones quoted), 1000 idle SSE readers beside 1000 WebSocket
# clients: heartbeats for all from the sweep, and each flip's fan-out to both kinds.
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

my $asan = $ENV{TOGGLES_PUSHD_ASAN} // '';
$asan = '' unless -x $asan;
note($asan ? "running the sanitized daemon $asan" : 'running the plain daemon (no TOGGLES_PUSHD_ASAN)');

my $node = PostgreSQL::Test::Cluster->new('sse_browser');
$node->init;
$node->start;

my $out = "$PostgreSQL::Test::Utils::tmp_check/js";
my %took = %{ NodeTest::run({
		TOGGLES_PUSHD => ($asan || $pushd),
		ASAN_OPTIONS => 'detect_leaks=1:abort_on_error=0:exitcode=99',
		TOGGLES_JS_PG => $node->connstr,
		TOGGLES_JS_OUT => $out,
		TOGGLES_CHROMIUM => $chromium,
	},
	'sse/events.test.js') };
%took = (%took, %{ NodeTest::run({
		TOGGLES_PUSHD => $pushd,
		TOGGLES_JS_PG => $node->connstr,
		TOGGLES_JS_OUT => $out,
	},
	'sse/fanout.test.js') });
diag(join ', ', map { sprintf '%s %.1f s', $_, $took{$_} } sort keys %took);

# Every daemon the file started (one, restarted once) left its log: no sanitizer report.
my @reports = grep { PushdHelper::slurp($_) =~ /(AddressSanitizer|LeakSanitizer|runtime error:)/ }
  glob("$out/pushd-js_sse_events-*.log");
is("@reports", '', 'no sanitizer report in the daemons\' logs');

$node->stop;
done_testing();
