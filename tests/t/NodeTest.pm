# NodeTest — runs JavaScript tests (node --test, tests/js/) from a TAP test: each test of
# each file becomes one assertion here, so that they count in prove and in make test.
#
#   NodeTest::require_node();            skips the file when node or tests/js/node_modules is missing
#   NodeTest::run(\%env, @files);        runs each file (one node process each, in order)
#
# The files find the daemon, the database and the lab through %env (tests/js/harness/env.js).
package NodeTest;

use strict;
use warnings;
use File::Basename qw(basename);
use FindBin;
use IPC::Run;
use Test::More;
use Time::HiRes qw(time);
use PostgreSQL::Test::Utils;

our $JS = "$FindBin::Bin/../js";

# node: the node binary, or undef.
sub node
{
	for my $dir (split /:/, $ENV{PATH} // '')
	{
		return "$dir/node" if -x "$dir/node";
	}
	return undef;
}

# require_node: skips the whole file, saying why, when the JS tests cannot run; scripts/test.sh
# installs what they need (npm ci in tests/js) and fails itself when it cannot.
sub require_node
{
	plan skip_all => 'node is not installed (scripts/deps.sh installs nodejs)' unless node();
	plan skip_all => "$JS/node_modules is missing: run npm ci in tests/js (scripts/test.sh does)"
	  unless -d "$JS/node_modules/ws";
	return;
}

# run(\%env, @files): each file under tests/js/, its tests as assertions; returns the
# seconds each file took ({file => seconds}).
sub run
{
	my ($env, @files) = @_;
	my %took;
	for my $file (@files)
	{
		my $path = "$JS/$file";
		my $log = "$PostgreSQL::Test::Utils::tmp_check/node-" . basename($file) . '.log';
		my @cmd = (node(), '--test', '--test-reporter=spec', "--test-reporter-destination=$log",
			"--test-reporter=$JS/harness/reporter.js", '--test-reporter-destination=stdout', $path);
		my ($out, $err) = ('', '');
		my $t0 = time;
		local %ENV = (%ENV, %$env);
		my $ok = eval {
			IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(600));
			1;
		};
		$took{$file} = time - $t0;
		my $exit = $ok ? $? >> 8 : "timeout ($@)";
		my ($passed, $failed) = relay($file, $out);
		note(sprintf('%s: %d passed, %d failed in %.1f s (log %s)', $file, $passed, $failed, $took{$file}, $log));
		if ($exit ne '0' && $failed == 0)
		{
			fail("$file: node --test exited $exit");
			diag("$err\n" . slurp($log));
		}
		elsif ($failed)
		{
			diag("stderr of $file:\n$err") if $err ne '';
		}
		fail("$file: ran no test") if $passed + $failed == 0 && $exit eq '0';
	}
	return \%took;
}

sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	return <$fh> // '';
}

# relay($file, $output): the reporter's lines as assertions; (passed, failed).
sub relay
{
	my ($file, $output) = @_;
	my ($passed, $failed) = (0, 0);
	my @lines = split /\n/, $output;
	for (my $i = 0; $i < @lines; $i++)
	{
		if ($lines[$i] =~ /^DIAG\t(.*)$/)
		{
			note("$file: $1");
			next;
		}
		my ($status, $ms, $name, $reason) = $lines[$i] =~ /^RESULT\t(\w+)\t(\d+)\t([^\t]*)\t(.*)$/ or next;
		my $what = "$file: $name";
		if ($status eq 'skip')
		{
			Test::More->builder->skip("$what: $reason");
			next;
		}
		if ($status eq 'pass')
		{
			pass("$what ($ms ms)");
			$passed++;
			next;
		}
		fail($what);
		$failed++;
		my @why;
		push @why, $lines[++$i] =~ s/^\| //r while $i + 1 < @lines && $lines[$i + 1] =~ /^\| /;
		diag(join "\n", @why);
	}
	return ($passed, $failed);
}

1;
