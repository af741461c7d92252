# PushdHelper — runs toggles-pushd for the TAP tests and talks to it.
#
#   PushdHelper                 the daemon: start, stop, HTTP, metrics, memory
#   PushdHelper::Client         a WebSocket client (Mojo); any number share one event loop
#   PushdHelper::RawClient      a hand-made WebSocket over a plain socket: malformed
#                               handshakes and frames, slow readers
#   PushdHelper::Background     a command running while the test drives its clients
#   PushdHelper::LogModel       toggles.changes replayed, to check what a client was sent
#
# Nothing here waits without a deadline: a broken daemon fails a test, never hangs it.
package PushdHelper;

use strict;
use warnings;
use Carp;
use File::Spec;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Utils;

our ($HAVE_MOJO, $MOJO_ERROR);

BEGIN
{
	# A snapshot of hundreds of toggles with long descriptions is bigger than Mojo's
	# default 256 KiB message limit; the tests judge the daemon's limits, not Mojo's.
	$ENV{MOJO_MAX_WEBSOCKET_SIZE} ||= 64 * 1024 * 1024;
	# Not EV: libev reaps every child process itself, which would steal the exit status
	# of the daemon, of psql and of IPC::Run's commands from their waitpid.
	$ENV{MOJO_REACTOR} = 'Mojo::Reactor::Poll';
	$HAVE_MOJO = eval { require Mojo::UserAgent; require Mojo::IOLoop; 1 } ? 1 : 0;
	$MOJO_ERROR = $@;
}

# A write to a socket the daemon closed must fail the write, not kill the test.
$SIG{PIPE} = 'IGNORE';

my $json = JSON::PP->new->utf8->canonical;
my @started;    # every daemon started, so that none outlives a test that died

sub json { return $json; }

# last_version_of(@messages): the version of the last snapshot or change, undef before any.
sub last_version_of
{
	for my $m (reverse @_)
	{
		return $m->{version} if ($m->{type} // '') =~ /^(snapshot|change)$/;
	}
	return undef;
}

# epoch_of(@messages): the epoch of the last snapshot, undef before any.
sub epoch_of
{
	for my $m (reverse @_)
	{
		return $m->{epoch} if ($m->{type} // '') eq 'snapshot';
	}
	return undef;
}

# binary: the daemon to test, from TOGGLES_PUSHD or PATH; undef when there is none.
sub binary
{
	return $ENV{TOGGLES_PUSHD} if defined $ENV{TOGGLES_PUSHD} && $ENV{TOGGLES_PUSHD} ne '';
	for my $dir (File::Spec->path)
	{
		my $candidate = "$dir/toggles-pushd";
		return $candidate if -f $candidate && -x _;
	}
	return undef;
}

# require_pushd: skips the whole test file while the daemon is not built; a missing
# Mojolicious is a broken test environment, not a reason to skip.
sub require_pushd
{
	my $bin = binary();
	plan skip_all => 'toggles-pushd not found (set TOGGLES_PUSHD or put it on PATH)'
	  unless defined $bin;
	die "TOGGLES_PUSHD=$bin is not an executable file\n" unless -f $bin && -x _;
	die "the pushd tests need Mojolicious (apt-get install libmojolicious-perl): $MOJO_ERROR"
	  unless $HAVE_MOJO;
	return $bin;
}

# free_port: a TCP port on 127.0.0.1 nobody listens on, from the kernel.
sub free_port
{
	my $s = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Proto     => 'tcp',
		Listen    => 1,
		ReuseAddr => 1) or die "cannot bind a free port: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

# spawn(\@cmd, $log): runs a command with stdin from /dev/null and stdout and stderr
# appended to $log; returns its pid.
sub spawn
{
	my ($cmd, $log) = @_;
	my $pid = fork;
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# PostgreSQL::Test::Utils exports PGAPPNAME (the test's name), which would win
		# over the daemon's fallback_application_name 'toggles-pushd'.
		delete $ENV{PGAPPNAME};
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log or POSIX::_exit(126);
		open STDERR, '>&', \*STDOUT;
		{ no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
		print STDERR "exec $cmd->[0]: $!\n";
		# _exit: the child must not run the test's END blocks (they stop the cluster).
		POSIX::_exit(127);
	}
	return $pid;
}

# describe_status($?): 0..255 for an exit, "signal N" for a death by signal.
sub describe_status
{
	my ($status) = @_;
	return $status >> 8 if ($status & 127) == 0;
	return 'signal ' . ($status & 127);
}

sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	my $text = <$fh>;
	return $text // '';
}

# start($node, %opts): a running daemon, returned once GET /healthz answers 200.
#   db              conninfo (default: the node's postgres database)
#   node            --node NAME (default "test-PORT")
#   args            more arguments (arrayref)
#   wrapper         command to run the daemon under (arrayref), e.g. valgrind
#   require_token   leave out --allow-anonymous (which every other test passes)
#   no_wait_healthy return once /healthz answers anything
#   start_timeout   seconds to wait for that (default timeout_default)
#   stop_timeout    seconds stop() waits after SIGTERM (default timeout_default)
#   tls_ca          the daemon serves TLS (args carry --tls-cert/--tls-key): URLs are
#                   https:// and wss://, verified against this CA (or self-signed) file
#   binary          the daemon to run instead of binary()
#   port            the port (default: a free one), e.g. to restart a node where it was
#   listen_host     the address to listen on and to reach it at (default 127.0.0.1), e.g. a
#                   network lab host's, with wrapper => [NetLab::command('app1')]
# Until client tokens exist every test daemon serves anonymous clients, and says so.
sub start
{
	my ($class, $node, %opts) = @_;
	my $bin = $opts{binary} // binary() // croak 'toggles-pushd not found';
	my $port = $opts{port} // free_port();
	my $name = $opts{node} // "test-$port";
	my $log_name = "pushd-$name-$port.log" =~ s/[^A-Za-z0-9._-]/_/gr;
	my $log = "$PostgreSQL::Test::Utils::tmp_check/$log_name";
	my $db = $opts{db} // $node->connstr('postgres');
	my $host = $opts{listen_host} // '127.0.0.1';
	my @cmd = (@{ $opts{wrapper} // [] }, $bin,
		'--db', $db, '--listen', "$host:$port", '--node', $name,
		($opts{require_token} ? () : ('--allow-anonymous')),
		@{ $opts{args} // [] });

	note("starting pushd $name: @cmd (log $log)");
	my $self = bless {
		pid          => undef,
		port         => $port,
		host         => $host,
		name         => $name,
		log          => $log,
		cmd          => \@cmd,
		tls_ca       => $opts{tls_ca},
		stop_timeout => $opts{stop_timeout} // $PostgreSQL::Test::Utils::timeout_default,
	}, $class;
	$self->{pid} = spawn(\@cmd, $log);
	push @started, $self;

	my $deadline = time + ($opts{start_timeout} // $PostgreSQL::Test::Utils::timeout_default);
	my $status = 599;
	while (1)
	{
		if (!$self->alive)
		{
			# free_port's port may be taken by another process before pushd binds it
			# (tests running in parallel): try again with another one, a few times.
			my $tries = $opts{bind_tries} // 0;
			if ($self->log_contents =~ /could not listen/ && $tries < 5 && !defined $opts{port})
			{
				note("port $port was taken meanwhile: starting again on another");
				@started = grep { $_ != $self } @started;
				return $class->start($node, %opts, bind_tries => $tries + 1);
			}
			croak "toggles-pushd $name exited during start-up ($self->{exit}):\n"
			  . $self->log_contents;
		}
		($status) = $self->http_get('/healthz', undef, 2);
		last if $status == 200 || ($opts{no_wait_healthy} && $status != 599);
		if (time > $deadline)
		{
			$self->kill9;
			croak "toggles-pushd $name not healthy in time (last /healthz: $status):\n"
			  . $self->log_contents;
		}
		sleep 0.1;
	}
	return $self;
}

sub port { return $_[0]{port}; }
sub host { return $_[0]{host}; }
sub pid  { return $_[0]{pid}; }
sub name { return $_[0]{name}; }
sub log_file { return $_[0]{log}; }
sub log_contents { return slurp($_[0]{log}); }

sub url
{
	my ($self, $path) = @_;
	my $scheme = $self->{tls_ca} ? 'https' : 'http';
	return "$scheme://$self->{host}:$self->{port}" . ($path // '/');
}

sub ws_url
{
	my ($self, $path) = @_;
	my $scheme = $self->{tls_ca} ? 'wss' : 'ws';
	return "$scheme://$self->{host}:$self->{port}" . ($path // '/v1/stream');
}

sub tls_ca { return $_[0]{tls_ca}; }

# alive: true while the process runs; once it has ended, its status is in {exit}.
sub alive
{
	my ($self) = @_;
	return 0 if $self->{reaped};
	my $r = waitpid($self->{pid}, WNOHANG);
	return 1 if $r == 0;
	$self->{reaped} = 1;
	$self->{exit} = $r == $self->{pid} ? describe_status($?) : 'lost';
	return 0;
}

# stop(timeout): SIGTERM, then the exit status (0..255 or "signal N").  Clients' event
# loop keeps running meanwhile, so that they can answer the daemon's close frames.  A
# daemon still running at the deadline is killed and "no exit after SIGTERM" returned.
sub stop
{
	my ($self, $timeout) = @_;
	return $self->{exit} if !$self->alive;
	kill 'TERM', $self->{pid};
	my $deadline = time + ($timeout // $self->{stop_timeout});
	while ($self->alive)
	{
		if (time > $deadline)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			$self->{reaped} = 1;
			return $self->{exit} = 'no exit after SIGTERM';
		}
		pump(0.05);
	}
	return $self->{exit};
}

sub kill9
{
	my ($self) = @_;
	return $self->{exit} if !$self->alive;
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{reaped} = 1;
	return $self->{exit} = describe_status($?);
}

# http_get($path, \%headers, $timeout): (status, headers, body); status 599 when the
# daemon could not be reached.  Header names are lower case.
sub http_get
{
	my ($self, $path, $headers, $timeout) = @_;
	my %tls = $self->{tls_ca}
	  ? (verify_SSL => 1, SSL_options => { SSL_ca_file => $self->{tls_ca} })
	  : ();
	my $http = HTTP::Tiny->new(timeout => $timeout // 10, keep_alive => 0, %tls);
	my $res = $http->get($self->url($path), { headers => $headers // {} });
	return ($res->{status}, $res->{headers}, $res->{content} // '');
}

# read_http_answer($sock, $timeout): the raw text of one HTTP/1.1 answer on a socket the
# caller wrote a request to, once its headers and Content-Length bytes are in (or the
# connection ended, or $timeout seconds passed); for requests sent side by side, which
# HTTP::Tiny cannot do.
sub read_http_answer
{
	my ($sock, $timeout) = @_;
	my $text = '';
	my $sel = IO::Select->new($sock);
	my $deadline = time + ($timeout // 10);
	while (time < $deadline && $sel->can_read($deadline - time))
	{
		my $n = sysread($sock, my $chunk, 65536);
		last unless $n;
		$text .= $chunk;
		my ($head) = $text =~ /^(.*?\r\n\r\n)/s;
		my ($clen) = ($head // '') =~ /^content-length:\s*(\d+)/mi;
		last if defined $head && length($text) >= length($head) + ($clen // 0);
	}
	return $text;
}

# http_json($path): the decoded body, or undef when it is not JSON.
sub http_json
{
	my ($self, $path) = @_;
	my (undef, undef, $body) = $self->http_get($path);
	return eval { $json->decode($body) };
}

# health: the decoded /healthz body plus its status as {http_status}; {} when
# unreachable.
sub health
{
	my ($self) = @_;
	my ($status, undef, $body) = $self->http_get('/healthz', undef, 5);
	my $h = eval { $json->decode($body) };
	$h = {} unless ref $h eq 'HASH';
	$h->{http_status} = $status;
	return $h;
}

# wait_health(status, timeout): waits until /healthz answers that HTTP status.
sub wait_health
{
	my ($self, $want, $timeout) = @_;
	my $h;
	return wait_for([], sub { $h = $self->health; $h->{http_status} == $want },
		$timeout, "/healthz $want from $self->{name}");
}

# wait_version(V, timeout): waits until the daemon reports version >= V on /healthz,
# i.e. has applied everything up to V.
sub wait_version
{
	my ($self, $version, $timeout) = @_;
	my $last = '';
	my $ok = wait_for([], sub {
		my $h = $self->health;
		$last = $h->{version} // "(none, HTTP $h->{http_status})";
		return defined $h->{version} && $h->{version} =~ /^\d+$/ && $h->{version} >= $version;
	}, $timeout);
	diag("$self->{name} did not reach version $version (last reported $last)") unless $ok;
	return $ok;
}

# metrics: { 'name' or 'name{labels}' => value } from GET /metrics; {} on failure.
sub metrics
{
	my ($self) = @_;
	my ($status, undef, $body) = $self->http_get('/metrics');
	return {} unless $status == 200;
	return parse_metrics($body);
}

sub parse_metrics
{
	my ($text) = @_;
	my %m;
	for my $line (split /\n/, $text)
	{
		next if $line =~ /^\s*(#|$)/;
		next unless $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/;
		$m{ $1 . ($2 // '') } = $3 + 0;
	}
	return \%m;
}

# metric($name): the value of an unlabelled metric, or the sum over its label sets;
# undef when absent.
sub metric
{
	my ($self, $name, $metrics) = @_;
	$metrics //= $self->metrics;
	return $metrics->{$name} if exists $metrics->{$name};
	my @labelled = grep { /^\Q$name\E\{/ } keys %$metrics;
	return undef unless @labelled;
	my $sum = 0;
	$sum += $metrics->{$_} for @labelled;
	return $sum;
}

# rss_kb: resident memory of the daemon's process, from /proc.
sub rss_kb
{
	my ($self) = @_;
	my ($kb) = slurp("/proc/$self->{pid}/status") =~ /^VmRSS:\s+(\d+)\s+kB/m;
	return $kb;
}

# run_once(args => [...], timeout => S): runs the binary to completion (for settings
# that must be refused); returns (exit status or 'timeout', output).
sub run_once
{
	my ($class, %opts) = @_;
	my $bin = $opts{binary} // binary() // croak 'toggles-pushd not found';
	my $log = "$PostgreSQL::Test::Utils::tmp_check/pushd-run-once-" . free_port() . '.log';
	my $pid = spawn([ $bin, @{ $opts{args} } ], $log);
	my $deadline = time + ($opts{timeout} // 15);
	while (1)
	{
		my $r = waitpid($pid, WNOHANG);
		return (describe_status($?), slurp($log)) if $r == $pid;
		if (time > $deadline)
		{
			kill 'KILL', $pid;
			waitpid($pid, 0);
			return ('timeout', slurp($log));
		}
		sleep 0.05;
	}
}

# pump(seconds): runs the clients' event loop for that long.
sub pump
{
	my ($seconds) = @_;
	if (!$HAVE_MOJO)
	{
		sleep $seconds;
		return;
	}
	my $loop = Mojo::IOLoop->singleton;
	my $done = 0;
	my $timer = $loop->timer($seconds => sub { $done = 1 });
	$loop->one_tick until $done;
}

# wait_for($clients, sub { condition }, $timeout, $what): runs the event loop until the
# condition holds (true) or the deadline passes (false, with a diagnostic when $what is
# given).  $clients (one client or an arrayref) are passed to the condition.
sub wait_for
{
	my ($clients, $cond, $timeout, $what) = @_;
	my @clients = ref $clients eq 'ARRAY' ? @$clients : ($clients);
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $deadline = time + $timeout;
	while (1)
	{
		return 1 if $cond->(@clients);
		last if time >= $deadline;
		pump(0.02);
	}
	diag(sprintf('timed out after %ss waiting for %s', $timeout, $what)) if defined $what;
	return 0;
}

# Convenience: every client's last stream version is at least V.
sub all_reached
{
	my ($clients, $version, $timeout, $what) = @_;
	return wait_for($clients,
		sub { !grep { ($_->last_version // -1) < $version } @_ },
		$timeout, $what // "every client to reach version $version");
}

# current_version($node, $db): the version toggles.snapshot() reports.
sub current_version
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres', q{SELECT toggles.snapshot() ->> 'version'}) + 0;
}

# table_state($node, $db): { name => {name, active, version, description} }.
sub table_state
{
	my ($node, $db) = @_;
	my $rows = $json->decode($node->safe_psql($db // 'postgres', q{
		SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'active', is_active,
			'version', version, 'description', description)), '[]')
		FROM toggles.features}));
	return { map { $_->{name} => toggle_of($_) } @$rows };
}

# toggle_of: the comparable part of a toggle as sent or stored.
sub toggle_of
{
	my ($t) = @_;
	return {
		name        => $t->{name},
		active      => ($t->{active} // $t->{is_active}) ? 1 : 0,
		version     => defined $t->{version} ? $t->{version} + 0 : undef,
		description => $t->{description},
	};
}

# state_string(\%state): "name=on@v,..." sorted, for readable comparisons.
sub state_string
{
	my ($state) = @_;
	return join ',', map {
		my $t = $state->{$_};
		sprintf('%s=%s@%s', $_, $t->{active} ? 'on' : 'off', $t->{version} // '?')
	} sort keys %$state;
}

# same_toggle(a, b): equal name, state, version and description.
sub same_toggle
{
	my ($a, $b) = @_;
	my ($x, $y) = (toggle_of($a), toggle_of($b));
	return 0 if grep { !defined $x->{$_} || !defined $y->{$_} } qw(name version description);
	return $x->{name} eq $y->{name} && $x->{active} == $y->{active}
	  && $x->{version} == $y->{version} && $x->{description} eq $y->{description};
}

# psql_script_bg($node, $db, $sql): runs a SQL script with psql in the background (in
# autocommit: each statement is a transaction), so the test can keep its clients
# reading meanwhile.  Returns a PushdHelper::Background.
sub psql_script_bg
{
	my ($node, $db, $sql) = @_;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/script-" . free_port() . '.sql';
	open my $fh, '>', $file or die "$file: $!";
	print $fh $sql;
	close $fh;
	my $psql = $node->can('installed_command') ? $node->installed_command('psql') : 'psql';
	return PushdHelper::Background->start(
		[ $psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
		"$file.log");
}

END
{
	# A test that died leaves its daemons running: they would hold ports and the cluster.
	local $?;
	for my $p (@started)
	{
		next if $p->{reaped};
		kill 'KILL', $p->{pid};
		waitpid($p->{pid}, 0);
	}
}


package PushdHelper::Background;

use strict;
use warnings;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);

sub start
{
	my ($class, $cmd, $log) = @_;
	my $self = bless { cmd => $cmd, log => $log }, $class;
	$self->{pid} = PushdHelper::spawn($cmd, $log);
	return $self;
}

# done: true once the command has ended ({exit} then holds its status).
sub done
{
	my ($self) = @_;
	return 1 if $self->{reaped};
	my $r = waitpid($self->{pid}, WNOHANG);
	return 0 if $r == 0;
	$self->{reaped} = 1;
	$self->{exit} = $r == $self->{pid} ? PushdHelper::describe_status($?) : 'lost';
	return 1;
}

# wait(timeout): waits for the end (driving the clients' loop); the exit status, or
# 'timeout' after killing it.
sub wait
{
	my ($self, $timeout) = @_;
	return $self->{exit} if PushdHelper::wait_for([], sub { $self->done }, $timeout);
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{reaped} = 1;
	return $self->{exit} = 'timeout';
}

sub exit_status { return $_[0]{exit}; }
sub output { return PushdHelper::slurp($_[0]{log}); }


package PushdHelper::Client;

use strict;
use warnings;
use Time::HiRes qw(time);

# connect($url, headers => {...}, protocols => [...], tls_ca => FILE, local_address => IP):
# starts connecting and returns at once; the messages arrive while the event loop runs
# (PushdHelper::wait_for).  A wss:// URL is verified against tls_ca; local_address is the
# source address (127.0.0.2-9 to look like other hosts).
sub connect
{
	my ($class, $url, %opts) = @_;
	die "Mojolicious is not installed\n" unless $PushdHelper::HAVE_MOJO;
	my $self = bless {
		url      => $url,
		messages => [],
		texts    => [],
		times    => [],
		open     => 0,
		closed   => 0,
	}, $class;
	# inactivity_timeout 0: an idle stream is normal, the client must not hang up on it.
	my $ua = $self->{ua} = Mojo::UserAgent->new(
		connect_timeout    => 10,
		request_timeout    => 30,
		inactivity_timeout => 0);
	$ua->ca($opts{tls_ca}) if $opts{tls_ca};
	$ua->socket_options({ LocalAddr => $opts{local_address} }) if $opts{local_address};
	$ua->websocket($url => $opts{headers} // {} => $opts{protocols} // [] => sub {
		my ($ua, $tx) = @_;
		if (!$tx->is_websocket)
		{
			$self->{closed} = 1;
			$self->{handshake_status} = $tx->res->code;
			$self->{error} = $tx->error ? $tx->error->{message} : 'no WebSocket upgrade';
			return;
		}
		$self->{tx} = $tx;
		$self->{open} = 1;
		$tx->max_websocket_size($ENV{MOJO_MAX_WEBSOCKET_SIZE});
		$tx->on(text => sub {
			my (undef, $bytes) = @_;
			my $m = eval { PushdHelper::json()->decode($bytes) };
			$m = { type => '(not json)', raw => $bytes } unless ref $m eq 'HASH';
			push @{ $self->{texts} }, $bytes;
			push @{ $self->{messages} }, $m;
			push @{ $self->{times} }, time;
		});
		$tx->on(binary => sub {
			my (undef, $bytes) = @_;
			push @{ $self->{texts} }, $bytes;
			push @{ $self->{messages} }, { type => '(binary)', raw => $bytes };
			push @{ $self->{times} }, time;
		});
		$tx->on(finish => sub {
			my (undef, $code, $reason) = @_;
			$self->{open} = 0;
			$self->{closed} = 1;
			$self->{close_code} = $code;
			$self->{close_reason} = $reason;
			$self->{closed_at} = time;
		});
	});
	$self->{started} = time;
	return $self;
}

sub url { return $_[0]{url}; }

# messages: every message in arrival order (decoded JSON objects; a text that is not a
# JSON object is {type => '(not json)', raw => ...}).
sub messages { return @{ $_[0]{messages} }; }
sub texts { return @{ $_[0]{texts} }; }
sub count { return scalar @{ $_[0]{messages} }; }
sub message { return $_[0]{messages}[ $_[1] ]; }
sub last { return $_[0]{messages}[-1]; }
sub arrival_time { return $_[0]{times}[ $_[1] ]; }
sub is_open { return $_[0]{open}; }
sub closed { return $_[0]{closed}; }
sub close_code { return $_[0]{close_code}; }
sub close_reason { return $_[0]{close_reason}; }
sub closed_at { return $_[0]{closed_at}; }    # time of the close, undef while open
sub handshake_status { return $_[0]{handshake_status}; }
sub error { return $_[0]{error}; }

sub of_type
{
	my ($self, $type) = @_;
	return grep { ($_->{type} // '') eq $type } $self->messages;
}

# stream: the snapshot and change messages only.
sub stream
{
	my ($self) = @_;
	return grep { ($_->{type} // '') =~ /^(snapshot|change)$/ } $self->messages;
}

# last_version: the version of the last snapshot or change, undef before any.
sub last_version { return PushdHelper::last_version_of($_[0]->messages); }

sub epoch
{
	my ($self) = @_;
	return PushdHelper::epoch_of($self->messages);
}

# state: the toggles a client holds after applying its stream ({name => toggle}).
sub state
{
	my ($self) = @_;
	my %state;
	for my $m ($self->stream)
	{
		%state = () if $m->{type} eq 'snapshot';
		$state{ $_->{name} } = PushdHelper::toggle_of($_) for @{ $m->{toggles} // [] };
		delete $state{$_} for @{ $m->{removed} // [] };
	}
	return \%state;
}

# send_text(bytes), send_binary(bytes), send_json(ref): false when not connected.
sub send_text
{
	my ($self, $bytes) = @_;
	return 0 unless $self->{open};
	$self->{tx}->send({ text => $bytes });
	return 1;
}

sub send_binary
{
	my ($self, $bytes) = @_;
	return 0 unless $self->{open};
	$self->{tx}->send({ binary => $bytes });
	return 1;
}

sub send_json
{
	my ($self, $ref) = @_;
	return $self->send_text(PushdHelper::json()->encode($ref));
}

# barrier(timeout): sends a ping and waits for a pong after everything received so far;
# what the daemon had queued for this client before the ping has then arrived.  Returns
# the pong, or undef.
sub barrier
{
	my ($self, $timeout) = @_;
	my $before = $self->count;
	return undef unless $self->send_json({ type => 'ping' });
	my $pong;
	PushdHelper::wait_for($self, sub {
		($pong) = grep { ($_->{type} // '') eq 'pong' } @{ $self->{messages} }[ $before .. $self->count - 1 ];
		return $pong || $self->{closed};
	}, $timeout // 10, "a pong on $self->{url}");
	return $pong;
}

sub close
{
	my ($self, $code) = @_;
	$self->{tx}->finish($code // 1000) if $self->{open};
}


package PushdHelper::RawClient;

use strict;
use warnings;
use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);
use Fcntl ();
use IO::Select;
use MIME::Base64;
use Socket qw(:all);
use Time::HiRes qw(time);

# connect(port => P, host => H, rcvbuf => BYTES, from => ADDR): a connected TCP socket.
# rcvbuf is set before connecting, so the window the daemon sees stays that small; from
# binds the local end to another loopback address (127.0.0.2 ...).  A refused
# connection (a daemon that died) gives a client that is at EOF from the start, with
# connect_error set, so that a test goes on to report rather than dies.
sub connect
{
	my ($class, %opts) = @_;
	my $host = $opts{host} // '127.0.0.1';
	my $self = bless { buf => '', host => $host, port => $opts{port}, eof => 0 }, $class;
	socket(my $sock, PF_INET, SOCK_STREAM, IPPROTO_TCP) or die "socket: $!";
	if ($opts{rcvbuf})
	{
		setsockopt($sock, SOL_SOCKET, SO_RCVBUF, pack('i', $opts{rcvbuf}))
		  or die "SO_RCVBUF: $!";
	}
	if ($opts{from})
	{
		bind($sock, pack_sockaddr_in(0, inet_aton($opts{from}))) or die "bind $opts{from}: $!";
	}
	if (!connect($sock, pack_sockaddr_in($opts{port}, inet_aton($host))))
	{
		$self->{connect_error} = "connect $host:$opts{port}: $!";
		Test::More::diag($self->{connect_error});
		$self->{eof} = 1;
		close $sock;
		return $self;
	}
	binmode $sock;
	my $flags = fcntl($sock, Fcntl::F_GETFL(), 0);
	fcntl($sock, Fcntl::F_SETFL(), $flags | Fcntl::O_NONBLOCK());
	$self->{sock} = $sock;
	return $self;
}

sub connected { return defined $_[0]{sock}; }

# upgrade(path => ..., key => ..., version => ..., headers => [name => value, ...]):
# sends the handshake (a header given as undef is left out) and reads the answer.
# Returns (status, {lower-case header => value}); status is 'eof' when the daemon hung
# up, 'timeout' when it said nothing.
sub upgrade
{
	my ($self, %opts) = @_;
	my $path = $opts{path} // '/v1/stream';
	my $key = exists $opts{key} ? $opts{key}
	  : encode_base64(join('', map { chr(int(rand(256))) } 1 .. 16), '');
	my @headers = (
		Host                    => "$self->{host}:$self->{port}",
		Upgrade                 => 'websocket',
		Connection              => 'Upgrade',
		'Sec-WebSocket-Key'     => $key,
		'Sec-WebSocket-Version' => exists $opts{version} ? $opts{version} : 13);
	my %override = @{ $opts{headers} // [] };
	my @lines;
	for (my $i = 0; $i < @headers; $i += 2)
	{
		my ($name, $value) = @headers[ $i, $i + 1 ];
		$value = delete $override{$name} if exists $override{$name};
		push @lines, "$name: $value" if defined $value;
	}
	push @lines, map { "$_: $override{$_}" } grep { defined $override{$_} } sort keys %override;
	$self->{key} = $key;
	$self->send_raw("GET $path HTTP/1.1\r\n" . join('', map { "$_\r\n" } @lines) . "\r\n");
	my ($status, $h) = $self->read_http_response($opts{timeout} // 10);
	$self->{upgraded} = $status eq '101';
	return ($status, $h);
}

# expected_accept: the Sec-WebSocket-Accept value the key of upgrade() calls for.
sub expected_accept
{
	my ($self) = @_;
	require Digest::SHA;
	return Digest::SHA::sha1_base64($self->{key} . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';
}

sub read_http_response
{
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while ($self->{buf} !~ /\r\n\r\n/)
	{
		my $r = $self->_fill($deadline - time);
		return ('eof', {}) if $r eq 'eof';
		return ('timeout', {}) if $r eq 'timeout';
	}
	my $end = index($self->{buf}, "\r\n\r\n");
	my $head = substr($self->{buf}, 0, $end);
	substr($self->{buf}, 0, $end + 4) = '';
	my ($status_line, @lines) = split /\r\n/, $head;
	my ($status) = $status_line =~ m{^HTTP/1\.[01] (\d{3})};
	my %h = map { /^([^:]+):\s*(.*)$/ ? (lc($1) => $2) : () } @lines;
	return ($status // 'garbage', \%h);
}

# _fill(seconds): reads what is there into the buffer: 'data', 'eof' or 'timeout'.
sub _fill
{
	my ($self, $timeout) = @_;
	return 'eof' if $self->{eof};
	my $sel = IO::Select->new($self->{sock});
	$timeout = 0 if $timeout < 0;
	return 'timeout' unless $sel->can_read($timeout);
	my $n = sysread($self->{sock}, my $chunk, 65536);
	if (!defined $n)
	{
		return 'timeout' if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
		$self->{eof} = 1;    # ECONNRESET and friends
		return 'eof';
	}
	if ($n == 0)
	{
		$self->{eof} = 1;
		return 'eof';
	}
	$self->{buf} .= $chunk;
	$self->{bytes_read} += $n;
	return 'data';
}

# send_raw(bytes, timeout): writes everything, or as much as the daemon accepts before
# the deadline; returns the number of bytes written.
sub send_raw
{
	my ($self, $bytes, $timeout) = @_;
	return 0 unless $self->{sock};
	my $deadline = time + ($timeout // 10);
	my $sel = IO::Select->new($self->{sock});
	my $done = 0;
	while ($done < length $bytes)
	{
		my $left = $deadline - time;
		last if $left <= 0;
		next unless $sel->can_write($left);
		my $n = send($self->{sock}, substr($bytes, $done), MSG_NOSIGNAL);
		if (!defined $n)
		{
			next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
			last;    # EPIPE, ECONNRESET: the daemon hung up
		}
		$done += $n;
	}
	return $done;
}

# frame(opcode => N, payload => BYTES, fin => 1, mask => 1, rsv => 0..7, length => N):
# one WebSocket frame as a client sends it (masked); length overrides the declared
# payload length.
sub frame
{
	my ($class, %o) = @_;
	my $payload = $o{payload} // '';
	my $fin = $o{fin} // 1;
	my $mask = $o{mask} // 1;
	my $len = $o{length} // length $payload;
	my $b0 = ($fin ? 0x80 : 0) | ((($o{rsv} // 0) & 7) << 4) | (($o{opcode} // 1) & 0x0f);
	my $m = $mask ? 0x80 : 0;
	my $head = $len < 126 ? pack('CC', $b0, $m | $len)
	  : $len < 65536 ? pack('CCn', $b0, $m | 126, $len)
	  : pack('CCQ>', $b0, $m | 127, $len);
	return $head . $payload unless $mask;
	my $key = pack('N', int(rand(2**32)));
	my $keystream = substr($key x (int(length($payload) / 4) + 1), 0, length $payload);
	return $head . $key . ($payload ^ $keystream);
}

sub send_frame
{
	my ($self, %o) = @_;
	my $frame = PushdHelper::RawClient->frame(%o);
	return $self->send_raw($frame, $o{timeout}) == length $frame;
}

sub send_text { my ($self, $text) = @_; return $self->send_frame(opcode => 1, payload => $text); }

sub send_close
{
	my ($self, $code, $reason) = @_;
	return $self->send_frame(opcode => 8, payload => pack('n', $code) . ($reason // ''));
}

# read_frame(timeout): the next frame as {opcode, fin, payload, code, reason} (code and
# reason for a close frame), {eof => 1} when the connection ended, undef on timeout.
sub read_frame
{
	my ($self, $timeout) = @_;
	my $deadline = time + ($timeout // 10);
	while (1)
	{
		my $f = $self->_parse_frame;
		return $f if $f;
		my $r = $self->_fill($deadline - time);
		return { eof => 1 } if $r eq 'eof';
		return undef if $r eq 'timeout' && time >= $deadline;
	}
}

sub _parse_frame
{
	my ($self) = @_;
	my $buf = \$self->{buf};
	return undef if length $$buf < 2;
	my ($b0, $b1) = unpack('CC', $$buf);
	my $len = $b1 & 0x7f;
	my $pos = 2;
	if ($len == 126)
	{
		return undef if length $$buf < 4;
		$len = unpack('n', substr($$buf, 2, 2));
		$pos = 4;
	}
	elsif ($len == 127)
	{
		return undef if length $$buf < 10;
		$len = unpack('Q>', substr($$buf, 2, 8));
		$pos = 10;
	}
	my $key;
	if ($b1 & 0x80)
	{
		return undef if length $$buf < $pos + 4;
		$key = substr($$buf, $pos, 4);
		$pos += 4;
	}
	return undef if length $$buf < $pos + $len;
	my $payload = substr($$buf, $pos, $len);
	substr($$buf, 0, $pos + $len) = '';
	$payload ^= substr($key x (int($len / 4) + 1), 0, $len) if defined $key;
	my $f = { opcode => $b0 & 0x0f, fin => ($b0 & 0x80) ? 1 : 0, payload => $payload };
	if ($f->{opcode} == 8)
	{
		$f->{code} = length $payload >= 2 ? unpack('n', $payload) : undef;
		$f->{reason} = length $payload > 2 ? substr($payload, 2) : '';
	}
	return $f;
}

# read_until_close(timeout, idle): reads (and drops) frames until the connection
# closes, the deadline passes, or (with idle) nothing arrived for idle seconds.
# Returns {how => 'close'|'eof'|'timeout', code => close code, frames => data frames}.
sub read_until_close
{
	my ($self, $timeout, $idle) = @_;
	my $deadline = time + ($timeout // 10);
	my $frames = 0;
	while (1)
	{
		my $wait = $deadline - time;
		$wait = $idle if defined $idle && $idle < $wait;
		my $f = $wait > 0 ? $self->read_frame($wait) : undef;
		return { how => 'timeout', frames => $frames } unless $f;
		return { how => 'eof', frames => $frames } if $f->{eof};
		return { how => 'close', code => $f->{code}, reason => $f->{reason}, frames => $frames }
		  if $f->{opcode} == 8;
		$frames++;
	}
}

# burst(port => P, from => [addresses], count => N, batch => B): N WebSocket upgrade
# attempts from the addresses in turn, at most B at once (default all), non-blocking, each
# judged within 15 s of its batch's start.  An attempt answered 101 counts for its address
# and is held open until its batch is judged; one the kernel or pushd closed or reset
# before any answer is refused; one answered otherwise is "other".  Returns
# ({address => upgraded}, refused, other, unanswered).
sub burst
{
	my (%o) = @_;
	my @from = @{ $o{from} };
	my $n = $o{count};
	my $batch_max = $o{batch} // $n;
	my $request = "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:$o{port}\r\nUpgrade: websocket\r\n"
	  . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	my %upgraded;
	my ($refused, $other, $unanswered) = (0, 0, 0);
	for (my $done = 0; $done < $n; $done += $batch_max)
	{
		my $batch = $n - $done < $batch_max ? $n - $done : $batch_max;
		my (%sock, @held);
		for my $i ($done .. $done + $batch - 1)
		{
			my $from = $from[ $i % @from ];
			socket(my $s, PF_INET, SOCK_STREAM, IPPROTO_TCP) or die "socket: $!";
			bind($s, pack_sockaddr_in(0, inet_aton($from))) or die "bind $from: $!";
			fcntl($s, Fcntl::F_SETFL(), fcntl($s, Fcntl::F_GETFL(), 0) | Fcntl::O_NONBLOCK());
			if (!CORE::connect($s, pack_sockaddr_in($o{port}, inet_aton('127.0.0.1'))) && $! != EINPROGRESS)
			{
				$refused++;    # refused by the kernel: nothing got in either
				close $s;
				next;
			}
			$sock{ fileno $s } = { s => $s, sent => 0, from => $from };
		}
		my $deadline = time + 15;
		while (%sock && time < $deadline)
		{
			my $wsel = IO::Select->new(map { $_->{s} } grep { !$_->{sent} } values %sock);
			my $rsel = IO::Select->new(map { $_->{s} } grep { $_->{sent} } values %sock);
			my ($r, $w) = IO::Select->select($rsel->count ? $rsel : undef, $wsel->count ? $wsel : undef, undef, 0.5);
			for my $s (@{ $w // [] })
			{
				my $err = getsockopt($s, SOL_SOCKET, SO_ERROR);
				if ($err && unpack('i', $err))
				{
					$refused++;
					delete $sock{ fileno $s };
					close $s;
					next;
				}
				send($s, $request, MSG_NOSIGNAL);
				$sock{ fileno $s }{sent} = 1;
			}
			for my $s (@{ $r // [] })
			{
				my $got = sysread($s, my $chunk, 4096);
				next if !defined $got && ($! == EAGAIN || $! == EWOULDBLOCK);
				my $from = $sock{ fileno $s }{from};
				delete $sock{ fileno $s };
				if (!$got) { $refused++; close $s; }    # EOF or reset before any answer
				elsif ($chunk =~ m{^HTTP/1\.1 101 }) { $upgraded{$from}++; push @held, $s; }
				else { $other++; close $s; }
			}
		}
		$unanswered += scalar keys %sock;
		close $_->{s} for values %sock;
		close $_ for @held;
	}
	return (\%upgraded, $refused, $other, $unanswered);
}

# read_until_eof(seconds): everything the daemon sends until it hangs up (an HTTP body, an
# SSE stream), or undef if it is still open at the deadline.
sub read_until_eof
{
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while (1)
	{
		my $r = $self->_fill($deadline - time);
		return $self->{buf} if $r eq 'eof';
		return undef if $r eq 'timeout' && time >= $deadline;
	}
}

# stop_reading: a slow consumer simply never calls read_frame; this only documents it.
sub stop_reading { $_[0]{not_reading} = 1; return $_[0]; }

sub upgraded { return $_[0]{upgraded}; }
sub bytes_read { return $_[0]{bytes_read} // 0; }

sub close
{
	my ($self) = @_;
	close $self->{sock} if $self->{sock};
	delete $self->{sock};
}


package PushdHelper::LogModel;

use strict;
use warnings;

# load($node, $db): every entry of toggles.changes, grouped by version.
sub load
{
	my ($class, $node, $db) = @_;
	my $rows = PushdHelper::json()->decode($node->safe_psql($db // 'postgres', q{
		SELECT coalesce(jsonb_agg(jsonb_build_object('version', version, 'op', operation,
			'name', name, 'new', new) ORDER BY version, id), '[]')
		FROM toggles.changes}));
	my %by_version;
	push @{ $by_version{ $_->{version} } }, $_ for @$rows;
	return bless { events => \%by_version, versions => [ sort { $a <=> $b } keys %by_version ] },
	  $class;
}

sub versions { return @{ $_[0]{versions} }; }
sub max_version { return $_[0]{versions}[-1] // 0; }

# committed_between(a, b): the committed versions in (a, b].
sub committed_between
{
	my ($self, $from, $to) = @_;
	return grep { $_ > $from && $_ <= $to } $self->versions;
}

# state_at(V): {name => toggle} after every transaction up to V.
sub state_at
{
	my ($self, $version) = @_;
	my $c = $self->cursor;
	$c->advance($version);
	return { %{ $c->{state} } };
}

# cursor: replays the log forwards; advance(V) applies the versions up to V and returns
# the names they touched.
sub cursor
{
	my ($self) = @_;
	return bless { model => $self, pos => 0, at => 0, state => {} }, 'PushdHelper::LogCursor';
}

# verify_stream(\@messages, %opts): checks a client's stream against the log:
#   - versions never go backwards; every change is newer than what came before (an
#     empty change may repeat the version it resumes from);
#   - a snapshot holds exactly the state at its version;
#   - a change (possibly coalesced) holds exactly the toggles that transactions after the
#     previous message touched, with their state at its version, and removes every
#     deleted toggle the client knew (deleting one it never knew is allowed);
#   - the result of applying it is the state at its version.
# opts: since => V (a resumed stream, starting from the state at V), epoch => E (every
# snapshot must carry it).  Returns {errors => [...], version, state, changes,
# snapshots, coalesced (changes spanning several transactions)}.
sub verify_stream
{
	my ($self, $messages, %opts) = @_;
	my @errors;
	my $cursor = $self->cursor;
	my ($version, $state);
	if (defined $opts{since})
	{
		$cursor->advance($opts{since});
		$version = $opts{since};
		$state = { %{ $cursor->{state} } };
	}
	my ($changes, $snapshots, $coalesced) = (0, 0, 0);
	my $i = -1;
	for my $m (@$messages)
	{
		$i++;
		my $type = $m->{type} // '';
		next unless $type eq 'snapshot' || $type eq 'change';
		my $v = $m->{version};
		if (!defined $v || $v !~ /^\d+$/)
		{
			push @errors, "message $i: no version";
			last;
		}
		if ($type eq 'snapshot')
		{
			$snapshots++;
			push @errors, "message $i: snapshot version $v goes back from $version"
			  if defined $version && $v < $version;
			push @errors, "message $i: snapshot epoch $m->{epoch}, expected $opts{epoch}"
			  if defined $opts{epoch} && ($m->{epoch} // '') ne $opts{epoch};
			last if $v < $cursor->{at};
			$cursor->advance($v);
			$state = { map { $_->{name} => PushdHelper::toggle_of($_) } @{ $m->{toggles} // [] } };
			my ($got, $want) = (PushdHelper::state_string($state), PushdHelper::state_string($cursor->{state}));
			push @errors, "message $i: snapshot at $v holds $got, the log says $want"
			  if $got ne $want || !_same_descriptions($state, $cursor->{state});
			$version = $v;
			next;
		}

		$changes++;
		if (!defined $version)
		{
			push @errors, "message $i: a change before any snapshot";
			last;
		}
		my @toggles = @{ $m->{toggles} // [] };
		my @removed = @{ $m->{removed} // [] };
		if ($v < $version || ($v == $version && (@toggles || @removed)))
		{
			push @errors, "message $i: change version $v after $version";
			last;
		}
		my $from = $version;
		my $touched = $cursor->advance($v);
		$coalesced++ if $self->committed_between($from, $v) > 1;
		my $now = $cursor->{state};

		my %sent;
		for my $t (@toggles)
		{
			my $name = $t->{name} // '(no name)';
			push @errors, "message $i: $name sent twice" if $sent{$name}++;
			if (!$touched->{$name})
			{
				push @errors, "message $i (version $v): $name was not changed after $from";
			}
			elsif (!$now->{$name})
			{
				push @errors, "message $i (version $v): $name sent but deleted";
			}
			elsif (!PushdHelper::same_toggle($t, $now->{$name}))
			{
				push @errors, sprintf('message %d (version %d): %s sent as %s, the log says %s',
					$i, $v, $name, PushdHelper::json()->encode(PushdHelper::toggle_of($t)),
					PushdHelper::json()->encode($now->{$name}));
			}
			push @errors, "message $i (version $v): $name has no updated_at"
			  unless defined $t->{updated_at} && $t->{updated_at} ne '';
		}
		my %gone = map { $_ => 1 } @removed;
		for my $name (@removed)
		{
			push @errors, "message $i (version $v): $name removed but it exists"
			  if $now->{$name};
			push @errors, "message $i (version $v): $name removed but not deleted after $from"
			  if !$touched->{$name};
		}
		for my $name (sort keys %$touched)
		{
			if ($now->{$name})
			{
				push @errors, "message $i (version $v): $name changed after $from but not sent"
				  unless $sent{$name};
			}
			elsif ($state->{$name} && !$gone{$name})
			{
				push @errors, "message $i (version $v): $name deleted after $from but not removed";
			}
		}
		$state->{ $_->{name} } = PushdHelper::toggle_of($_) for @toggles;
		delete $state->{$_} for @removed;
		$version = $v;
		last if @errors > 20;
	}
	return {
		errors    => \@errors,
		version   => $version,
		state     => $state,
		changes   => $changes,
		snapshots => $snapshots,
		coalesced => $coalesced,
	};
}

sub _same_descriptions
{
	my ($a, $b) = @_;
	for my $name (keys %$a)
	{
		return 0 unless $b->{$name} && ($a->{$name}{description} // "\0") eq $b->{$name}{description};
	}
	return 1;
}


package PushdHelper::LogCursor;

use strict;
use warnings;

sub advance
{
	my ($self, $to) = @_;
	my $model = $self->{model};
	my %touched;
	while ($self->{pos} < @{ $model->{versions} } && $model->{versions}[ $self->{pos} ] <= $to)
	{
		my $v = $model->{versions}[ $self->{pos}++ ];
		for my $e (@{ $model->{events}{$v} })
		{
			$touched{ $e->{name} } = 1;
			if ($e->{op} eq 'delete') { delete $self->{state}{ $e->{name} }; }
			else { $self->{state}{ $e->{name} } = PushdHelper::toggle_of($e->{new}); }
		}
	}
	$self->{at} = $to if $to > $self->{at};
	return \%touched;
}

1;
