# Slow consumers: 20 clients upgrade with a tiny receive buffer and then never read, and
# 5 Server-Sent Events streams (GET /v1/events) do the same, while 2,000 transactions over
# 200 toggles with 1 KB descriptions flow.  The daemon must bound what it queues for them
# (coalescing past --max-backlog, closing with 4001 past --max-backlog-bytes; an SSE
# stream is ended, with retry:) instead of growing with the flood, and a client that does
# read must still get every change up to the last version.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $slow_n = 20;
my $sse_n = 5;
my $transactions = 2000;

my $node = PostgreSQL::Test::Cluster->new('pushd_slow');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, description)
	SELECT 'slow-' || lpad(i::text, 3, '0'), i || ' ' || repeat('description ', 85)
	FROM generate_series(1, 200) AS i;
});

my $pushd = PushdHelper->start($node,
	args => [ '--max-backlog', '8', '--max-backlog-bytes', '262144', '--max-stall', '2' ]);

my @slow;
for my $i (1 .. $slow_n)
{
	my $raw = PushdHelper::RawClient->connect(port => $pushd->port, rcvbuf => 4096);
	my ($status) = $raw->upgrade;
	is($status, 101, "slow client $i upgraded") or next;
	push @slow, $raw->stop_reading;
}
my @slow_sse;
for my $i (1 .. $sse_n)
{
	my $raw = PushdHelper::RawClient->connect(port => $pushd->port, rcvbuf => 4096);
	$raw->send_raw("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n", 5);
	my ($status) = $raw->read_http_response(10);
	is($status, 200, "slow SSE stream $i: 200") or next;
	push @slow_sse, $raw->stop_reading;
}
my $reader = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($reader, sub { $reader->count >= 1 }, 30, 'the reader\'s snapshot'),
	'the reading client got its snapshot');
PushdHelper::pump(1);
my $rss_before = $pushd->rss_kb;
my $start_version = PushdHelper::current_version($node);

# The flood runs in the background so that the reading client keeps reading.
my $sql = join '', map {
	sprintf("UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'slow-%03d';\n",
		1 + ($_ * 7) % 200)
} 1 .. $transactions;
my $psql = PushdHelper::psql_script_bg($node, 'postgres', $sql);
is($psql->wait($PostgreSQL::Test::Utils::timeout_default), 0, "$transactions transactions committed")
  or diag($psql->output);
my $final = PushdHelper::current_version($node);
is($node->safe_psql('postgres', "SELECT count(DISTINCT version) FROM toggles.changes WHERE version > $start_version"),
	$transactions, "the log holds $transactions new transactions");

ok(PushdHelper::all_reached([$reader], $final, $PostgreSQL::Test::Utils::timeout_default),
	"the reading client reached the last version $final");
ok(!$reader->closed, 'the reading client was not closed') or diag('close code ' . ($reader->close_code // '?'));
my $model = PushdHelper::LogModel->load($node);
my $r = $model->verify_stream([ $reader->messages ]);
is_deeply([ @{ $r->{errors} }[ 0 .. ($#{ $r->{errors} } < 9 ? $#{ $r->{errors} } : 9) ] ], [],
	'the reading client\'s stream checks out against the log');
is(PushdHelper::state_string($r->{state} // {}), PushdHelper::state_string(PushdHelper::table_state($node)),
	'the reading client holds the table');
diag(sprintf('reader: %d changes, %d of them coalesced', $r->{changes}, $r->{coalesced}));

# Memory: what is queued for the 20 stalled clients is bounded by the backlog limits
# (20 x 256 KiB = 5 MiB), nowhere near 20 copies of the 2,000 changes (~45 MiB).
my $rss_after = $pushd->rss_kb;
diag("pushd VmRSS: $rss_before kB before the flood, $rss_after kB after");
cmp_ok($rss_after, '<', 200 * 1024, 'VmRSS stays under 200 MB');
cmp_ok($rss_after - $rss_before, '<', 32 * 1024, 'VmRSS grew by less than 32 MB over the flood');

my $m = $pushd->metrics;
my $coalesced = $pushd->metric('pushd_coalesced_total', $m) // 0;
my $culled = $pushd->metric('pushd_culled_clients_total', $m) // 0;
diag("pushd_coalesced_total $coalesced, pushd_culled_clients_total $culled");
ok($coalesced > 0, 'stalled clients were coalesced');

# Once they have taken nothing for --max-stall (2 s) with more than --max-backlog-bytes
# broadcast meanwhile, the next change culls them; the reader, which reads, stays.
PushdHelper::pump(3);
$psql = PushdHelper::psql_script_bg($node, 'postgres', join '', map {
	sprintf("UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'slow-%03d';\n", $_)
} map { 1 + $_ % 200 } 1 .. 600);    # ~650 KB of changes: past --max-backlog-bytes
is($psql->wait($PostgreSQL::Test::Utils::timeout_default), 0, '600 more transactions committed');
$final = PushdHelper::current_version($node);
ok(PushdHelper::wait_for([$reader], sub {
	($pushd->metric('pushd_culled_clients_total') // 0) >= $slow_n + $sse_n }, 20, 'culling'),
	"all $slow_n stalled WebSocket clients and $sse_n SSE streams were culled");
$culled = $pushd->metric('pushd_culled_clients_total') // 0;
ok(PushdHelper::all_reached([$reader], $final, 20), 'the reader got the change that culled them');
ok(!$reader->closed, 'the reader is still open');

# A stalled client the daemon gave up on was told why: 4001 (or it simply hung up when
# the close frame could not be written).  Reading now drains what was queued.
my %how;
for my $raw (@slow)
{
	my $end = $raw->read_until_close(10, 1);    # open ones: 1 s of silence
	my $key = $end->{how} eq 'close' ? 'close ' . ($end->{code} // 'without code') : $end->{how};
	$how{$key}++;
}
diag('stalled clients after draining: ' . join(', ', map { "$how{$_} $_" } sort keys %how));
is(scalar(grep { /^close / && $_ ne 'close 4001' } keys %how), 0, 'any close of a stalled client is 4001');
my $reader_culled = ($reader->close_code // 0) == 4001 ? 1 : 0;

# A culled SSE stream ends: what was queued, then (when it could still be written) a
# retry: field, then the end of the response.
my $sse_ended = 0;
for my $raw (@slow_sse)
{
	my $text = $raw->read_until_eof(10);
	$sse_ended++ if defined $text;
	like($text // '', qr/\Aretry: 1000\n\n(?:[^\n]*\n)*?event: snapshot\n/, 'a culled SSE stream began with retry: and its snapshot');
}
is($sse_ended, $sse_n, "all $sse_n culled SSE streams were ended by pushd");
is(($how{'close 4001'} // 0) + ($how{eof} // 0) + $reader_culled + $sse_ended, $culled,
	'as many were closed as pushd_culled_clients_total says');

# The daemon is still fine: a new client gets a snapshot at the last version.
ok($pushd->alive, 'pushd is still running');
my $late = PushdHelper::Client->connect($pushd->ws_url);
PushdHelper::wait_for($late, sub { $late->count >= 1 }, 30, 'a late snapshot');
is(($late->message(0) // {})->{version}, $final, 'a new client gets a snapshot at the last version');

$_->close for @slow, @slow_sse;
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
