# Hostile input, in batches: HTTP requests of every wrong shape, truncated and oversized
# handshakes, bytes that are not HTTP, upgrades with bad keys and versions, every kind of
# malformed WebSocket frame, bad UTF-8, binary frames, 16 MiB messages, deeply nested and
# broken JSON, ping and message floods, slowloris, and a flood of forged notifications.
# Each input gets its documented answer (docs/protocol.md, docs/security.md); after each
# batch pushd is still running and a bystander connected throughout still gets changes.
#
# With TOGGLES_PUSHD_ASAN set (scripts/test.sh sets it), the daemon under test is the
# AddressSanitizer + UBSan build, and any sanitizer report in its log fails the test.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Socket qw(SHUT_WR);
use Test::More;
use Time::HiRes qw(time sleep);
use PushdHelper;

PushdHelper::require_pushd();
my $asan = $ENV{TOGGLES_PUSHD_ASAN} // '';
$asan = '' unless -x $asan;
note($asan ? "running the sanitized daemon $asan" : 'running the plain daemon (no TOGGLES_PUSHD_ASAN)');
# Sanitizer reports go to the daemon's log; LeakSanitizer checks at exit.
$ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0:exitcode=99';
$ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1:exitcode=99';

my $node = PostgreSQL::Test::Cluster->new('pushd_hostile');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	CREATE ROLE mallory LOGIN;
	INSERT INTO toggles.features (name, is_active, description)
		VALUES ('dark-mode', false, 'Dark theme'), ('beta-banner', true, 'Beta');
});

my $max_frame = 4096;
my $pushd = PushdHelper->start($node,
	binary => ($asan || undef),
	args => [ '--max-client-frame', $max_frame, '--handshake-timeout', 2,
		'--client-messages-per-second', 20, '--max-catchups-per-second', 5 ]);
my $port = $pushd->port;
my $F = 'PushdHelper::RawClient';
my $cases = 0;

my $bystander = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($bystander, sub { $bystander->count >= 1 }, 30, 'the bystander\'s snapshot'),
	'a bystander is connected');

# healthy(batch): pushd runs, the bystander gets a real change, /healthz is 200.
my $flips = 0;
sub healthy
{
	my ($batch) = @_;
	ok($pushd->alive, "after $batch: pushd is running")
	  or BAIL_OUT("pushd died during $batch ($pushd->{exit}):\n" . $pushd->log_contents);
	$flips++;
	$node->safe_psql('postgres',
		"UPDATE toggles.features SET is_active = NOT is_active, description = 'flip $flips' WHERE name = 'dark-mode'");
	my $v = PushdHelper::current_version($node);
	ok(PushdHelper::all_reached([$bystander], $v, 20), "after $batch: the bystander got version $v");
	ok(!$bystander->closed, "after $batch: the bystander is still connected");
	is($pushd->health->{http_status}, 200, "after $batch: /healthz 200");
}

# --- answers -------------------------------------------------------------------------
# http_case(name, bytes, want): sends raw bytes, reads the answer's status; want is a
# regex over the status ('eof' when pushd hangs up without one).  Never a 101 or a 5xx.
sub http_case
{
	my ($name, $bytes, $want, %opts) = @_;
	$cases++;
	my $raw = $F->connect(port => $port);
	$raw->send_raw($bytes, 5);
	shutdown($raw->{sock}, SHUT_WR) if $opts{half_close} && $raw->{sock};
	my ($st) = $raw->read_http_response($opts{timeout} // 5);
	like($st, $want, "$name: $st");
	$raw->close;
	return $st;
}

# upgraded(): a raw client past a correct upgrade, its snapshot read.
sub upgraded
{
	my $raw = $F->connect(port => $port);
	my ($st) = $raw->upgrade;
	if ($st ne '101')
	{
		fail("upgrade for a frame case: $st");
		return $raw;
	}
	my $f = $raw->read_frame(10) // {};
	diag('no snapshot after the upgrade') unless ($f->{payload} // '') =~ /"snapshot"/;
	return $raw;
}

# close_case(name, bytes, want): after an upgrade the bytes make pushd close the
# connection; want is a close code, or a regex over "close CODE" / "eof".
sub close_case
{
	my ($name, $bytes, $want) = @_;
	$cases++;
	my $raw = upgraded();
	$raw->send_raw($bytes, 10);
	my $end = $raw->read_until_close(10);
	my $got = $end->{how} eq 'close' ? 'close ' . ($end->{code} // 'none') : $end->{how};
	if (ref $want)
	{
		like($got, $want, "$name: $got");
	}
	else
	{
		is($got, "close $want", "$name: close $want");
	}
	$raw->close;
}

# next_text(raw): the next text frame's payload (pings and pongs skipped); undef if none.
sub next_text
{
	my ($raw, $timeout) = @_;
	my $deadline = time + ($timeout // 10);
	while (time < $deadline)
	{
		my $f = $raw->read_frame($deadline - time) or return undef;
		return undef if $f->{eof} || $f->{opcode} == 8;
		return $f->{payload} if $f->{opcode} == 1;
	}
	return undef;
}

# answer_case(name, bytes, type, error): after an upgrade the bytes get one text answer of
# that type (and error code), and the connection stays open (a ping still answers).
sub answer_case
{
	my ($name, $bytes, $type, $error) = @_;
	$cases++;
	my $raw = upgraded();
	$raw->send_raw($bytes, 10);
	my $text = next_text($raw, 10);
	my $m = defined $text ? eval { PushdHelper::json()->decode($text) } : undef;
	my $got = !defined $text ? 'nothing' : ref $m eq 'HASH' ? ($m->{type} // '?') . (defined $m->{error} ? "/$m->{error}" : '') : 'not json';
	is($got, defined $error ? "$type/$error" : $type, "$name: answered $got");
	$raw->send_text('{"type":"ping"}');
	like(next_text($raw, 10) // '', qr/"type":"pong"/, "$name: the connection still works");
	$raw->close;
}

# --- batch 1: HTTP methods and paths ----------------------------------------------------
my $req = sub { my ($line, @h) = @_; return "$line\r\nHost: 127.0.0.1\r\n" . join('', map { "$_\r\n" } @h) . "\r\n"; };
for my $method (qw(POST PUT DELETE PATCH OPTIONS HEAD PROPFIND BREW))
{
	for my $path ('/v1/toggles', '/metrics')
	{
		# Methods lws does not know it refuses itself, with 403.
		http_case("$method $path", $req->("$method $path HTTP/1.1", 'Content-Length: 0'), qr/^(405|403)$/);
	}
}
http_case('POST with a body', $req->('POST /v1/toggles HTTP/1.1', 'Content-Length: 5') . 'hello', qr/^405$/);
http_case('POST announcing 1 TB', $req->('POST /healthz HTTP/1.1', 'Content-Length: 1099511627776'), qr/^(405|413|400|eof)$/);
http_case('POST with a negative length', $req->('POST /healthz HTTP/1.1', 'Content-Length: -1'), qr/^(405|400|eof)$/);
http_case('Content-Length and chunked', $req->('POST /healthz HTTP/1.1', 'Content-Length: 4', 'Transfer-Encoding: chunked') . "0\r\n\r\n", qr/^(405|400|eof)$/);
http_case('CONNECT', "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", qr/^(eof|4\d\d)$/);
http_case('TRACE', $req->('TRACE / HTTP/1.1'), qr/^(eof|403|405)$/);
http_case('an absolute URI (proxy request)', $req->('GET http://evil.example/healthz HTTP/1.1'), qr/^(eof|403|400)$/);
for my $path ('/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/v1/toggles%00',
	'/v1/toggles/extra', '/.git/config', '/v1', '/metrics/', '/healthz.json', '/V1/TOGGLES',
	'/' . ('a/' x 60))
{
	http_case("GET $path", $req->("GET $path HTTP/1.1"), qr/^(404|403|400|eof)$/);
}
# lws removes dot segments and path parameters before pushd sees the path.
http_case('GET /v1/toggles/../../metrics (is /metrics)', $req->('GET /v1/toggles/../../metrics HTTP/1.1'), qr/^200$/);
http_case('GET /v1/toggles;x=1 (is /v1/toggles)', $req->('GET /v1/toggles;x=1 HTTP/1.1'), qr/^200$/);
http_case('GET /v1/toggles?x=1 (a query is ignored)', $req->('GET /v1/toggles?x=1 HTTP/1.1'), qr/^200$/);
http_case('GET /v1/stream without an upgrade', $req->('GET /v1/stream HTTP/1.1'), qr/^426$/);
http_case('h2c upgrade', $req->('GET /healthz HTTP/1.1', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c',
	'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'), qr/^400$/);
http_case('upgrade to something else', $req->('GET /healthz HTTP/1.1', 'Connection: Upgrade', 'Upgrade: tls/1.3'), qr/^(400|403)$/);
healthy('HTTP methods and paths');

# --- batch 2: HTTP syntax -------------------------------------------------------------------
http_case('a header without a colon', "GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", qr/^(400|eof)$/);
http_case('NUL in the path', "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", qr/^(400|404|eof)$/);
http_case('an obsolete folded header', "GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", qr/^(400|eof)$/);
http_case('empty lines before the request', "\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", qr/^(400|200|eof)$/);
http_case('a request line of spaces', "      \r\n\r\n", qr/^(400|403|eof)$/);
http_case('a method of 1000 letters', ('A' x 1000) . " / HTTP/1.1\r\n\r\n", qr/^(400|403|eof)$/);
http_case('HTTP/2.0 in a request line', "GET /healthz HTTP/2.0\r\n\r\n", qr/^(400|505|200|eof)$/);
http_case('HTTP/9.9', "GET /healthz HTTP/9.9\r\n\r\n", qr/^(400|505|200|eof)$/);
http_case('a bare CR in a header', "GET /healthz HTTP/1.1\r\nHost: a\rb\r\n\r\n", qr/^(400|200|eof)$/);
http_case('high bytes in a header', "GET /healthz HTTP/1.1\r\nHost: \xff\xfe\x80\r\n\r\n", qr/^(400|200|eof)$/);
http_case('a header name of 2000 characters', "GET /healthz HTTP/1.1\r\n" . ('X' x 2000) . ": 1\r\n\r\n", qr/^(400|431|200|eof)$/);
http_case('1000 duplicate Host headers', "GET /healthz HTTP/1.1\r\n" . ("Host: a\r\n" x 1000) . "\r\n", qr/^(400|431|200|eof)$/);
http_case('If-None-Match of 3000 bytes', $req->('GET /v1/toggles HTTP/1.1', 'If-None-Match: "' . ('x' x 3000) . '"'), qr/^(200|400|431|eof)$/);
healthy('HTTP syntax');

# --- batch 3: truncated handshakes ------------------------------------------------------------
# The upgrade request cut short at every 7th byte, then the write side closed: pushd must
# neither upgrade nor wait for the rest.
{
	my $raw = $F->connect(port => $port);
	my $full = "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	$raw->close;
	for (my $cut = 1; $cut < length($full) - 2; $cut += 7)
	{
		http_case("the upgrade cut after $cut bytes, then half-closed", substr($full, 0, $cut), qr/^(eof|400)$/,
			half_close => 1);
	}
	# Cut, and then silence: the handshake deadline (2 s) ends it.
	for my $cut (5, 40, length($full) - 3)
	{
		my $t0 = time;
		http_case("the upgrade cut after $cut bytes, then silence", substr($full, 0, $cut), qr/^eof$/, timeout => 8);
		cmp_ok(time - $t0, '<', 6, "... hung up by --handshake-timeout within 6 s");
	}
}
healthy('truncated handshakes');

# --- batch 4: oversized requests -----------------------------------------------------------------
# pushd takes 16 KiB of request line and headers (room for a 4 KiB context percent-encoded):
# within it a request is served, beyond it refused.
http_case('a header value of 5000 bytes (within 16 KiB)', $req->('GET /healthz HTTP/1.1', 'X-Big: ' . ('b' x 5_000)), qr/^200$/);
for my $size (17_000, 65_000, 1_000_000)
{
	http_case("a header value of $size bytes", $req->('GET /healthz HTTP/1.1', 'X-Big: ' . ('b' x $size)), qr/^(431|400|eof)$/);
}
http_case('200 header lines (within 16 KiB)', $req->('GET /healthz HTTP/1.1', map { "X-H$_: v" } 1 .. 200), qr/^200$/);
for my $n (2_000, 20_000)
{
	http_case("$n header lines", $req->('GET /healthz HTTP/1.1', map { "X-H$_: v" } 1 .. $n), qr/^(431|400|eof)$/);
}
http_case('a path of 8000 bytes (within 16 KiB): not found', $req->('GET /' . ('p' x 8_000) . ' HTTP/1.1'), qr/^404$/);
http_case('a query of 8000 bytes on the stream (within 16 KiB): upgraded', $req->("GET /v1/stream?since=1&epoch=" . ('e' x 8_000) . ' HTTP/1.1',
	'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
	'Sec-WebSocket-Version: 13'), qr/^101$/);
for my $size (17_000, 64_000, 1_000_000)
{
	http_case("a path of $size bytes", $req->('GET /' . ('p' x $size) . ' HTTP/1.1'), qr/^(414|431|400|eof)$/);
	http_case("a query of $size bytes on the stream", $req->("GET /v1/stream?since=1&epoch=" . ('e' x $size) . ' HTTP/1.1',
		'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
		'Sec-WebSocket-Version: 13'), qr/^(414|431|400|eof)$/);
}
healthy('oversized requests');

# --- batch 5: not HTTP at all ------------------------------------------------------------
http_case('a TLS ClientHello', "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" . ("\0" x 64) . "\r\n\r\n", qr/^(eof|400|403)$/);
http_case('the HTTP/2 preface', "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", qr/^(eof|400|403|505)$/);
http_case('SSH banner', "SSH-2.0-OpenSSH_9.2\r\n", qr/^(eof|400|403)$/, half_close => 1);
http_case('NUL bytes', "\0" x 4096, qr/^(eof|400|403)$/, half_close => 1);
http_case('CRLF only', "\r\n" x 2000, qr/^(eof|400)$/, half_close => 1);
http_case('nothing, half-closed at once', '', qr/^eof$/, half_close => 1);
for my $seed (1 .. 12)
{
	my $x = $seed;
	my $bytes = join '', map { $x = ($x * 1103515245 + 12345) % 2**31; chr($x >> 16 & 0xff) } 1 .. 2000;
	http_case("random bytes (seed $seed)", $bytes, qr/^(eof|400|405|404|403|431|414)$/, half_close => 1);
}
healthy('bytes that are not HTTP');

# --- batch 6: upgrades -------------------------------------------------------------------
# upgrade_case(name, want, %upgrade): RawClient::upgrade with overrides; want a regex.
sub upgrade_case
{
	my ($name, $want, %up) = @_;
	$cases++;
	my $raw = $F->connect(port => $port);
	my ($st) = $raw->upgrade(%up, timeout => 5);
	like($st, $want, "$name: $st");
	$raw->close;
}
my $refused = qr/^(eof|4\d\d)$/;
for my $key ('', 'c2hvcnQ=', 'A' x 23, 'A' x 25, ('A' x 22) . '=', ('A' x 21) . '===', ('A' x 22) . '!!',
	('*' x 22) . '==', ('A' x 20) . " \t==", 'dGhlIHNhbXBsZSBub25jZQ==' x 4)
{
	upgrade_case("Sec-WebSocket-Key '" . ($key =~ s/\t/\\t/r) . "'", $refused, key => $key);
}
upgrade_case('two Sec-WebSocket-Key headers', $refused, headers => [ 'Sec-WebSocket-key' => 'AAAAAAAAAAAAAAAAAAAAAA==' ]);
for my $version (undef, '', 0, 7, 8, 12, 14, 'abc', '13, 8', '013', '13 13')
{
	upgrade_case('Sec-WebSocket-Version ' . ($version // '(none)'), $refused, version => $version);
}
upgrade_case('Sec-WebSocket-Version " 13" (white space around a value is not part of it)', qr/^101$/, version => ' 13');
upgrade_case('no Upgrade header', $refused, headers => [ Upgrade => undef ]);
upgrade_case('Connection: keep-alive', qr/^(eof|4\d\d|200)$/, headers => [ Connection => 'keep-alive' ]);
upgrade_case('Upgrade: WebSocket (case does not matter)', qr/^101$/, headers => [ Upgrade => 'WebSocket' ]);
upgrade_case('an unknown subprotocol', $refused, headers => [ 'Sec-WebSocket-Protocol' => 'chat' ]);
upgrade_case('an Origin header (no allow-list)', qr/^101$/, headers => [ Origin => 'https://anywhere.example' ]);
for my $path ('/v1/stream/', '/v1/streams', '/v1/toggles', '/metrics', '/v2/stream', '/v1/stream/..%2f')
{
	upgrade_case("upgrade on $path", $refused, path => $path);
}
upgrade_case('upgrade on //v1/stream (lws merges the slashes)', qr/^101$/, path => '//v1/stream');
upgrade_case('upgrade with a NUL in the query (?epoch=%00): lws refuses it', $refused, path => '/v1/stream?epoch=%00');
for my $query ('since=abc', 'since=-1', 'since=99999999999999999999999', 'since=1e3', 'since=&epoch=',
	'since=1&epoch=' . ('x' x 200), 'since=0&since=5', 'since=%ff%fe')
{
	# A malformed resume point is a fresh start: upgrade and a snapshot.
	$cases++;
	my $raw = $F->connect(port => $port);
	my ($st) = $raw->upgrade(path => "/v1/stream?$query", timeout => 5);
	my $first = $st eq '101' ? next_text($raw, 10) // '' : '';
	ok($st eq '101' && $first =~ /"type":"(snapshot|change)"/, "?$query: 101 and a snapshot or change ($st)");
	$raw->close;
}
healthy('upgrades');

# --- batch 7: frames -------------------------------------------------------------------------
for my $bad ("\xff", "\xfe\xff", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
	"\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "{\"type\":\"ping\"}\x80", "{\"a\":\"\xe2\x98\"}", "\xe2\x98")
{
	my $shown = join ' ', map { sprintf '%02x', ord } split //, substr($bad, -4);
	close_case("text that is not UTF-8 (... $shown)", $F->frame(opcode => 1, payload => $bad), 1007);
}
close_case('not UTF-8 across fragments', $F->frame(opcode => 1, payload => "\xe2", fin => 0) . $F->frame(opcode => 0, payload => 'x'), 1007);
answer_case('UTF-8 split across fragments (valid)',
	$F->frame(opcode => 1, payload => "{\"type\":\"\xe2\x98", fin => 0) . $F->frame(opcode => 0, payload => "\x83\"}"),
	'error', 'unknown_message');
for my $rsv (1 .. 7)
{
	close_case("reserved bits $rsv", $F->frame(opcode => 1, payload => '{"type":"ping"}', rsv => $rsv), 1002);
}
for my $op (3 .. 7, 0xB .. 0xF)
{
	close_case(sprintf('reserved opcode 0x%X', $op), $F->frame(opcode => $op, payload => 'x'), 1002);
}
close_case('a fragmented ping', $F->frame(opcode => 9, payload => 'x', fin => 0), 1002);
close_case('a fragmented pong', $F->frame(opcode => 10, payload => 'x', fin => 0), 1002);
close_case('a fragmented close', $F->frame(opcode => 8, payload => pack('n', 1000), fin => 0), 1002);
# Control frames over 125 bytes: lws drops the connection without a close frame.
close_case('a ping of 126 bytes', $F->frame(opcode => 9, payload => 'p' x 126), qr/^(close 1002|eof)$/);
close_case('a pong of 200 bytes', $F->frame(opcode => 10, payload => 'p' x 200), qr/^(close 1002|eof)$/);
close_case('a close of 126 bytes', $F->frame(opcode => 8, payload => pack('n', 1000) . ('r' x 124)), qr/^(close 1002|eof)$/);
for my $code (0, 999, 1004, 1005, 1006, 1015, 1016, 2999)
{
	close_case("a close with the reserved code $code", $F->frame(opcode => 8, payload => pack('n', $code)), 1002);
}
for my $code (1000, 1001, 3000, 4999)
{
	close_case("a close with code $code is answered in kind", $F->frame(opcode => 8, payload => pack('n', $code)), $code);
}
close_case('a close with a 1-byte body', $F->frame(opcode => 8, payload => "\x03"), qr/^(close (1002|none)|eof)$/);
close_case('a close whose reason is not UTF-8', $F->frame(opcode => 8, payload => pack('n', 1000) . "\xff"), qr/^(close (1002|1007)|eof)$/);
close_case('a continuation without a start', $F->frame(opcode => 0, payload => 'x'), 1002);
close_case('a new text frame inside a fragmented one',
	$F->frame(opcode => 1, payload => '{"ty', fin => 0) . $F->frame(opcode => 1, payload => 'pe":"ping"}'), 1002);
close_case('a binary frame inside a fragmented text', $F->frame(opcode => 1, payload => '{', fin => 0) . $F->frame(opcode => 2, payload => '}'), 1002);
close_case('a continuation after a final frame',
	$F->frame(opcode => 1, payload => '{"type":"ping"}') . $F->frame(opcode => 0, payload => 'x'), 1002);
for my $size (0, 1, 125, 126, 4000)
{
	close_case("a binary frame of $size bytes", $F->frame(opcode => 2, payload => "\x01" x $size), 1003);
}
close_case('a fragmented binary message', $F->frame(opcode => 2, payload => 'ab', fin => 0) . $F->frame(opcode => 0, payload => 'cd'), 1003);
answer_case('a ping inside a fragmented text',
	$F->frame(opcode => 1, payload => '{"type":', fin => 0) . $F->frame(opcode => 9, payload => 'x') . $F->frame(opcode => 0, payload => '"nope"}'),
	'error', 'unknown_message');
answer_case('an unsolicited pong first', $F->frame(opcode => 10, payload => 'hi') . $F->frame(opcode => 1, payload => '{"type":"x"}'),
	'error', 'unknown_message');
healthy('malformed frames');

# --- batch 8: sizes ------------------------------------------------------------------------------
close_case('a text frame of max-client-frame + 1', $F->frame(opcode => 1, payload => 'x' x ($max_frame + 1)), 1009);
close_case('a text frame of 64 KiB', $F->frame(opcode => 1, payload => 'x' x 65536), 1009);
{
	my $head = substr($F->frame(opcode => 1, payload => 'x' x 65536, length => 16 * 1024 * 1024), 0, 14 + 65536);
	close_case('a frame announcing 16 MiB (64 KiB sent)', $head, 1009);
	# All of it: pushd closes long before the end, so the send may stop short.
	close_case('a 16 MiB message, sent whole', $F->frame(opcode => 1, payload => 'y' x (16 * 1024 * 1024)), qr/^(close 1009|eof)$/);
}
close_case('10 fragments of 500 bytes (5000 > 4096)',
	join('', map { $F->frame(opcode => $_ == 1 ? 1 : 0, payload => 'z' x 500, fin => $_ == 10 ? 1 : 0) } 1 .. 10), 1009);
close_case('2 fragments of 3000 bytes', $F->frame(opcode => 1, payload => 'a' x 3000, fin => 0) . $F->frame(opcode => 0, payload => 'b' x 3000), 1009);
answer_case('a message in 8 fragments, within the limit',
	join('', map { $F->frame(opcode => $_ == 0 ? 1 : 0, payload => substr('{"type":"ping"}', $_ * 2, 2), fin => $_ == 7 ? 1 : 0) } 0 .. 7),
	'pong');
close_case('a length with the top bit set', substr($F->frame(opcode => 1, payload => '', length => 2**63), 0, 14),
	qr/^(close (1002|1009)|eof)$/);
healthy('sizes');

# --- batch 9: JSON ------------------------------------------------------------------------------
answer_case('a ping', $F->frame(opcode => 1, payload => '{"type":"ping"}'), 'pong');
answer_case('a ping padded with white space', $F->frame(opcode => 1, payload => " \n\t{ \"type\" : \"ping\" }\n "), 'pong');
answer_case('a ping with extra members', $F->frame(opcode => 1, payload => '{"type":"ping","x":[1,2,{"y":null}]}'), 'pong');
for my $depth (10, 500, 999, 1001, 2000)
{
	my $deep = ('[' x $depth) . (']' x $depth);
	answer_case("arrays nested $depth deep", $F->frame(opcode => 1, payload => $deep), 'error',
		$depth > 1000 ? 'invalid_json' : 'unknown_message');
}
for my $depth (100, 650)
{
	my $deep = ('{"a":' x $depth) . '1' . ('}' x $depth);
	answer_case("objects nested $depth deep", $F->frame(opcode => 1, payload => $deep), 'error',
		'unknown_message');
}
for my $case (
	[ 'a ping with trailing garbage', '{"type":"ping"} xyz', 'invalid_json' ],
	[ 'two objects', '{"type":"ping"}{"type":"ping"}', 'invalid_json' ],
	[ 'type PING', '{"type":"PING"}', 'unknown_message' ],
	[ 'type null', '{"type":null}', 'unknown_message' ],
	[ 'type as an array', '{"type":["ping"]}', 'unknown_message' ],
	[ 'type as an object', '{"type":{"ping":1}}', 'unknown_message' ],
	[ 'an invalid escape', '{"type":"\x"}', 'invalid_json' ],
	[ 'a lone surrogate escape', '{"type":"\ud800"}', 'invalid_json' ],
	[ 'a number of 4000 digits', '{"type":' . ('9' x 4000) . '}', 'unknown_message' ],
	[ '1e999999', '{"n":1e999999}', 'unknown_message' ],
	[ 'NaN', '{"n":NaN}', 'invalid_json' ],
	[ 'a bare string', '"ping"', 'unknown_message' ],
	[ 'null', 'null', 'unknown_message' ],
	[ 'an unterminated string', '{"type":"ping', 'invalid_json' ],
	[ 'an empty message', '', 'invalid_json' ],
	[ 'a message of 4000 spaces', ' ' x 4000, 'invalid_json' ],
	[ '1000 duplicate keys', '{' . join(',', ('"type":"x"') x 300) . '}', 'unknown_message' ],
	[ 'control characters in a string (cJSON takes them)', "{\"type\":\"p\x01\x02\"}", 'unknown_message' ])
{
	my ($name, $payload, $error) = @$case;
	answer_case($name, $F->frame(opcode => 1, payload => $payload), 'error', $error);
}
# cJSON's leniencies, pinned: a UTF-8 byte-order mark is skipped, and a string is compared
# up to an escaped NUL.
answer_case('a BOM before a ping', $F->frame(opcode => 1, payload => "\xef\xbb\xbf{\"type\":\"ping\"}"), 'pong');
answer_case('type "ping\\u0000x"', $F->frame(opcode => 1, payload => '{"type":"ping\u0000x"}'), 'pong');
healthy('JSON');

# --- batch 10: floods ----------------------------------------------------------------------------
{
	$cases++;
	my $m0 = $pushd->metric('pushd_client_rate_limited_total') // 0;
	# The close frame may be lost to the reset that unread data causes when pushd closes.
	close_case('200 messages at once (over 20 per second)', $F->frame(opcode => 1, payload => '{"type":"ping"}') x 200,
		qr/^(close 4029|eof)$/);
	close_case('100 empty text frames at once', $F->frame(opcode => 1, payload => '') x 100, 4029);
	close_case('fragments count too: 50 empty continuations',
		$F->frame(opcode => 1, payload => '', fin => 0) . ($F->frame(opcode => 0, payload => '', fin => 0) x 50), 4029);
	cmp_ok($pushd->metric('pushd_client_rate_limited_total') // 0, '>=', $m0 + 3, 'pushd_client_rate_limited_total counts them');

	# 20,000 WebSocket pings without reading a pong: lws keeps one pong pending, no more.
	my $rss0 = $pushd->rss_kb;
	my $raw = upgraded();
	my $ping = $F->frame(opcode => 9, payload => 'flood');
	my $sent = $raw->send_raw($ping x 20_000, 20);
	ok($sent > 0, "a ping flood: $sent bytes sent");
	$raw->close;
	# 20,000 unsolicited pongs: ignored.
	$raw = upgraded();
	$raw->send_raw($F->frame(opcode => 10, payload => 'p') x 20_000, 20);
	$raw->send_text('{"type":"ping"}');
	like(next_text($raw, 10) // '', qr/"type":"pong"/, 'after 20,000 unsolicited pongs the connection still answers');
	$raw->close;
	my $rss1 = $pushd->rss_kb;
	cmp_ok($rss1 - $rss0, '<', 64 * 1024, "memory after the floods: +" . ($rss1 - $rss0) . ' kB');
	# Slow pacing stays under the limit: 10 per second for 2 seconds.
	$raw = upgraded();
	my $pongs = 0;
	for (1 .. 20)
	{
		$raw->send_text('{"type":"ping"}');
		$pongs++ if (next_text($raw, 5) // '') =~ /"pong"/;
		sleep 0.1;
	}
	is($pongs, 20, 'a client pinging 10 times a second is not limited');
	$raw->close;
}
healthy('floods');

# --- batch 11: slowloris -------------------------------------------------------------------------
{
	my $m0 = $pushd->metric('pushd_handshake_timeouts_total') // 0;
	my @slow = map { $F->connect(port => $port) } 1 .. 30;
	$_->send_raw("GET /v1/stream HTTP/1.1\r\n") for @slow;
	my $t0 = time;
	# Meanwhile a real client connects at once: slow handshakes hold no shared resource.
	my $c = PushdHelper::Client->connect($pushd->ws_url);
	ok(PushdHelper::wait_for($c, sub { $c->count >= 1 }, 5, 'a snapshot during slowloris'),
		'a client connecting during a slowloris attack gets its snapshot');
	my $open = scalar @slow;
	while ($open && time - $t0 < 8)
	{
		for my $s (@slow)
		{
			next unless $s->{sock};
			if ($s->send_raw("X-Slow: 1\r\n", 0.2) == 0 || $s->_fill(0) eq 'eof')
			{
				$s->close;
				$open--;
			}
		}
		PushdHelper::pump(0.3);
	}
	is($open, 0, '30 slowloris connections trickling headers are all closed');
	cmp_ok(time - $t0, '<', 6, '... within --handshake-timeout (2 s) and some slack');
	$cases += 30;
	cmp_ok(($pushd->metric('pushd_handshake_timeouts_total') // 0) - $m0, '>=', 30,
		'pushd_handshake_timeouts_total counts them');
	ok(!$c->closed, 'the client that connected meanwhile is still connected');
	$c->close;
}
healthy('slowloris');

# --- batch 12: a forged NOTIFY flood -------------------------------------------------------------
{
	my $m0 = $pushd->metrics;
	my $n = 3000;
	my $t0 = time;
	# Each statement its own transaction: 3000 separate notifications.
	my $flood = PushdHelper::psql_script_bg($node, 'postgres',
		join('', map { "SELECT pg_notify('toggles', '{\"v\":1,\"version\":$_}');\n" } 1 .. $n));
	PushdHelper::pump(0.3);
	$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'beta-banner'});
	my $v = PushdHelper::current_version($node);
	ok(PushdHelper::all_reached([$bystander], $v, 20), 'a real change during the flood arrives');
	is($flood->wait(120), 0, "mallory's $n notifications were sent");
	my $elapsed = time - $t0;
	PushdHelper::pump(1.5);    # the last delayed read
	my $m1 = $pushd->metrics;
	my $d = sub { ($pushd->metric($_[0], $m1) // 0) - ($pushd->metric($_[0], $m0) // 0) };
	cmp_ok($d->('pushd_notifications_total'), '>=', $n, "pushd saw the $n notifications");
	my $reads = $d->('pushd_catchups_total');
	cmp_ok($reads, '<=', 5 * ($elapsed + 2) + 5,
		sprintf('they caused %d reads of the log in %.1f s: at most 5 per second', $reads, $elapsed));
	cmp_ok($d->('pushd_catchups_delayed_total'), '>', 0, 'reads were delayed (pushd_catchups_delayed_total)');
	is($pushd->health->{version}, $v, 'pushd is at the real version, nothing lost');
	$cases += $n > 0;
}
healthy('a forged NOTIFY flood');

note("$cases hostile inputs");
cmp_ok($cases, '>=', 200, "at least 200 hostile inputs ($cases)");
is($pushd->metric('pushd_connections') // -1, 2, 'pushd_connections is back to the bystander and this scrape');

$bystander->close;
is($pushd->stop, 0, 'SIGTERM: exit status 0 (no sanitizer exit code)');
my $log = $pushd->log_contents;
unlike($log, qr/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer/,
	'no sanitizer report in the log') or diag($log =~ /(.*Sanitizer.*)/s ? substr($1, 0, 4000) : '');
$node->stop;
done_testing();
