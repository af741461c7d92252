# OFREP never goes backwards across nodes (docs/openfeature.md, "Bulk answers and ETags"):
# two nodes of one database, one of them ("lagging") kept behind by a relay on its
# database link that holds every byte (PauseProxy: its link looks up and silent, /healthz
# says 200).  An If-None-Match, or the flagConfigEtag of a refetch after a notification,
# that names the newer state of the other node waits --future-wait on the lagging one,
# then gets 503 with Retry-After, never the older 200 nor a 304 that says nothing changed;
# when the state arrives within --future-wait it is answered with it (304 or 200).  Both
# nodes give the same state the same ETag; a commit that changes nothing for the caller
# still gets a 304; an If-None-Match list counts by its tags of ours; tags that are not ours
# (garbage, too long, a broken list, "*") are no match.
# With TOGGLES_PUSHD_ASAN (scripts/test.sh sets it) both daemons are the AddressSanitizer +
# UBSan build, and a sanitizer report in either log fails the test.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PauseProxy;
use PushdHelper;

PushdHelper::require_pushd();

my $t_start = time;
my $node = PostgreSQL::Test::Cluster->new('ofrep_behind');
$node->init;
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, is_active) VALUES ('app.a', false), ('app.b', true), ('other', false);
});
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $token = sql(q{SELECT toggles.create_token('behind', '{app.*}')});
my $epoch = sql('SELECT toggles.epoch()');
my $json = JSON::PP->new->utf8->canonical;

my $asan = $ENV{TOGGLES_PUSHD_ASAN} // '';
$asan = '' unless -x $asan;
note($asan ? "running the sanitized daemon $asan" : 'running the plain daemon (no TOGGLES_PUSHD_ASAN)');
$ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0:exitcode=99';

my $future_wait = 1.5;
my $current = PushdHelper->start($node, node => 'current', require_token => 1, binary => ($asan || undef));
my $proxy = PauseProxy->start($node->port);
my $lagging = PushdHelper->start($node, node => 'lagging', require_token => 1, binary => ($asan || undef),
	db => 'host=127.0.0.1 port=' . $proxy->port . ' dbname=postgres',
	# The held link must look alive: no probe or timeout during a pause.
	args => [ '--future-wait', $future_wait * 1000, '--db-probe-interval', '120',
		'--db-timeout', '120' ]);

# send_post($daemon, $path, \%headers, $body, $sock): a POST written now, on its own
# connection (Connection: close) or, given $sock, on that one (keep-alive); read_answer
# reads it.  Several sent before any is read wait side by side.
sub send_post
{
	my ($daemon, $path, $headers, $body, $sock) = @_;
	$body //= '{"context":{"targetingKey":"u1"}}';
	my $s = $sock // IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $daemon->port, Timeout => 5)
	  or die "connect: $!";
	my %h = (Authorization => "Bearer $token", 'Content-Type' => 'application/json',
		Connection => ($sock ? 'keep-alive' : 'close'), %{ $headers // {} });
	print $s "POST /ofrep/v1/evaluate/flags$path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	  . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
	  . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
	return { sock => $s, t0 => time, keep => defined $sock };
}
# read_answer($sent): {status, headers (lower case), body (decoded JSON or text), took};
# the connection is closed unless it was sent on one given.
sub read_answer
{
	my ($sent) = @_;
	my $s = $sent->{sock};
	my $text = PushdHelper::read_http_answer($s, 15);
	my $took = time - $sent->{t0};
	close $s unless $sent->{keep};
	my ($head, $body) = split /\r\n\r\n/, $text, 2;
	my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
	my %headers = map { /^([^:]+):\s*(.*?)\s*$/ ? (lc $1 => $2) : () } split /\r\n/, ($head // '');
	my $decoded = eval { $json->decode($body // '') } // $body;
	return { status => $status // 'none', headers => \%headers, body => $decoded, took => $took };
}
sub post { return read_answer(send_post(@_)); }
sub query_escape { my ($v) = @_; $v =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge; return $v; }
sub refetch_path { return '?flagConfigEtag=' . query_escape($_[0]); }
sub value_of { my ($r, $key) = @_; my ($f) = grep { $_->{key} eq $key } @{ ref $r->{body} eq 'HASH' ? $r->{body}{flags} // [] : [] }; return $f && $f->{value}; }
sub said { my ($r) = @_; return $r->{status} . (defined $r->{headers}{'retry-after'} ? '/retry-after' : ''); }

my $v0 = PushdHelper::current_version($node);
ok($lagging->wait_version($v0, 10) && $current->wait_version($v0, 10), "both nodes at version $v0");

# --- one state, one ETag, on every node; unchanged: 304 -------------------------------------
my $c0 = post($current, '');
my $l0 = post($lagging, '');
my $e0 = $c0->{headers}{etag} // '';
like($e0, qr/^"\Q$epoch\E-$v0-[0-9a-f]{16}"$/, "the bulk ETag names the state: \"EPOCH-$v0-HASH\"");
is($l0->{headers}{etag}, $e0, 'the other node gives the same state the same ETag');
my $r = post($lagging, '', { 'If-None-Match' => $e0 });
is(said($r) . ' ' . ($r->{headers}{etag} // ''), "304 $e0", "If-None-Match of that state on either node: 304 with it");
my $s0 = post($current, '/app.a');
like($s0->{headers}{etag} // '', qr/^"\Q$epoch\E-$v0-[0-9a-f]{16}"$/, 'the single-flag ETag names the state too');

# --- a commit that changes nothing for the caller: still 304, naming the new state ---------
sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'other'});
my $v1 = PushdHelper::current_version($node);
ok($current->wait_version($v1, 10) && $lagging->wait_version($v1, 10), "both at version $v1 (a commit outside the token's scope)");
$r = post($current, '', { 'If-None-Match' => $e0 });
my $e1 = $r->{headers}{etag} // '';
is(said($r), '304', "an If-None-Match of version $v0, flags unchanged at $v1: 304");
like($e1, qr/^"\Q$epoch\E-$v1-[0-9a-f]{16}"$/, "... with the ETag of version $v1");
is(substr($e1, -17), substr($e0, -17), '... and the same hash');

# --- the lagging node is held behind -------------------------------------------------------
$proxy->pause;
sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'app.a'});
my $v2 = PushdHelper::current_version($node);
ok($current->wait_version($v2, 10), "the current node reached version $v2 (app.a on)");
my $c2 = post($current, '');
my $e2 = $c2->{headers}{etag} // '';
like($e2, qr/^"\Q$epoch\E-$v2-[0-9a-f]{16}"$/, "its ETag names version $v2");
my $s2 = post($current, '/app.a');
my $h = $lagging->health;
is("$h->{http_status} $h->{version}", "200 $v1", "the lagging node is still at version $v1 and does not know it is behind");
is(value_of(post($lagging, ''), 'app.a'), JSON::PP::false, '... (without a tag it answers its state, app.a off)');

# Four requests that name version $v2, at once: a provider's If-None-Match after it
# was answered by the current node; a refetch after a notification from the current
# node (flagConfigEtag $v2) with the provider's older ETag, which alone would get a 304
# that hides the change; one flag's If-None-Match; a list with another server's tag and
# the weak form of that ETag.
my @ahead = (
	send_post($lagging, '', { 'If-None-Match' => $e2 }),
	send_post($lagging, refetch_path($e2), { 'If-None-Match' => $e1 }),
	send_post($lagging, '/app.a', { 'If-None-Match' => $s2->{headers}{etag} }),
	send_post($lagging, '', { 'If-None-Match' => "\"x,y\", W/$e2" }),
);
my @answers = map { read_answer($_) } @ahead;
is(join(',', map { said($_) } @answers), join(',', ('503/retry-after') x 4),
	"If-None-Match, flagConfigEtag, a single flag's If-None-Match and a list, naming version $v2, on the lagging node: 503 with Retry-After");
my ($shortest) = sort { $a <=> $b } map { $_->{took} } @answers;
cmp_ok($shortest, '>=', $future_wait - 0.1, sprintf('... after --future-wait (%.1f s: %.2f s)', $future_wait, $shortest));
is($answers[1]{body}{errorDetails},
	'this node has not reached the version of your If-None-Match or flagConfigEtag yet: try again',
	'... saying why, in OFREP\'s shape');
ok(!grep({ ref $_->{body} eq 'HASH' && exists $_->{body}{flags} } @answers), '... and never an older body');
is($lagging->metric('pushd_future_waits_total'), 4, 'pushd_future_waits_total: 4');
is($lagging->metric('pushd_future_refused_total'), 4, 'pushd_future_refused_total: 4');

# Tags that are not ours are no match, and nothing waits for them.
my $long = '"' . ('a' x 1000) . "-$v2-" . ('0' x 16) . '"';
my @not_ours = ('"garbage"', '*', $long, "\"$epoch-$v2-zzzzzzzzzzzzzzzz\"",
	"$e2, garbage", "$e2 $e2", "\"$epoch-99999999999999999999-0000000000000000\"",
	'"' . substr($e2, -17));
my @plain = (
	(map { send_post($lagging, '', { 'If-None-Match' => $_ }) } @not_ours),
	send_post($lagging, '?flagConfigEtag=' . ('x' x 2000)),
	send_post($lagging, refetch_path('"1535ffa7d0378eb5"')),
);
@answers = map { read_answer($_) } @plain;
is(join(',', map { said($_) } @answers), join(',', ('200') x @plain),
	'garbage, "*", a 1000-character tag, a bad hash, a list that is not one (twice), a version past 2^63, a bare hash; flagConfigEtag too long or not ours: 200 (no match)');
my ($longest) = sort { $b <=> $a } map { $_->{took} } @answers;
cmp_ok($longest, '<', 1, sprintf('... at once (%.2f s)', $longest));
is($lagging->metric('pushd_future_waits_total'), 4, '... nothing waited for them');

# --- caught up within --future-wait: answered with the state it reached ----------------------
my @waiting = (
	send_post($lagging, '', { 'If-None-Match' => $e2 }),
	send_post($lagging, refetch_path($e2), { 'If-None-Match' => $e1 }),
	send_post($lagging, '/app.a', { 'If-None-Match' => $s2->{headers}{etag} }),
	send_post($lagging, '', { 'If-None-Match' => "$e0, W/$e2" }),
);
sleep 0.5;
$proxy->resume;
@answers = map { read_answer($_) } @waiting;
is(join(',', map { said($_) } @answers), '304,200,304,304',
	"the lagging node catches up while they wait: 304 to the ETag of $v2, 200 to the refetch, 304 to the flag's, 304 to the list");
is($answers[0]{headers}{etag}, $e2, '... the 304 with the ETag of the state reached');
is(value_of($answers[1], 'app.a'), JSON::PP::true, '... the refetch with the new value (app.a on)');
is($answers[1]{headers}{etag}, $e2, '... and the same ETag the current node gives');
($longest) = sort { $b <=> $a } map { $_->{took} } @answers;
cmp_ok($longest, '<', $future_wait - 0.1, sprintf('... before --future-wait is over (%.2f s)', $longest));
is($lagging->metric('pushd_future_waits_total') . '/' . $lagging->metric('pushd_future_refused_total'), '8/4',
	'pushd_future_waits_total 8, pushd_future_refused_total still 4');

# After a wait that ends in 503, a kept-alive connection serves on: the next request on it
# (its own state now) is answered at once.
my $ahead_tag = $e2 =~ s/-$v2-/'-' . ($v2 + 1) . '-'/er;
my $conn = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $lagging->port, Timeout => 5) or die "connect: $!";
my $first = read_answer(send_post($lagging, '', { 'If-None-Match' => $ahead_tag }, undef, $conn));
my $second = read_answer(send_post($lagging, '', { 'If-None-Match' => $e2 }, undef, $conn));
close $conn;
is(said($first) . ' ' . said($second), '503/retry-after 304',
	'on one kept-alive connection: 503 after the wait for a version nobody has, then 304 for the state it has');
cmp_ok($second->{took}, '<', 1, sprintf('... the second at once (%.2f s)', $second->{took}));

is($_->stop, 0, "$_->{name}: clean stop") for ($current, $lagging);
for my $d ($current, $lagging)
{
	my $log = $d->log_contents;
	unlike($log, qr/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer/,
		"$d->{name}: no sanitizer report in the log") or diag($log =~ /(.*Sanitizer.*)/s ? substr($1, 0, 4000) : '');
}
$proxy->stop;
note(sprintf('036 took %.1f s', time - $t_start));
$node->stop;
done_testing();
