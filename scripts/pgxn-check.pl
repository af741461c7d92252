#!/usr/bin/perl
# pgxn-check.pl ARCHIVE [PREVIOUS_VERSION...] — the checks PGXN Manager applies to an
# uploaded distribution (META.json as PGXN Meta Spec 1.0.0 defines it, the archive's
# shape), done here because no PGXN validator is packaged in Debian 12; plus this
# project's own: META.json's versions equal pg_toggles.control's, and the version is
# above every one already released (PGXN refuses a version it has).  Prints one line per
# check, "ok" or "not ok", and exits 1 when any failed.
use strict;
use warnings;
use IO::Uncompress::Unzip qw($UnzipError);
use JSON::PP;

my ($archive, @released) = @ARGV;
die "usage: pgxn-check.pl ARCHIVE [RELEASED_VERSION...]\n" unless defined $archive;

my $failed = 0;
my $n = 0;

sub check
{
	my ($ok, $what, $why) = @_;
	$n++;
	print(($ok ? 'ok' : 'not ok') . " $n - $what" . ($ok || !defined $why ? '' : ": $why") . "\n");
	$failed++ unless $ok;
	return $ok;
}

# The archive: every member's name, and the text of those we read.
my (%members, %text);
my $zip = IO::Uncompress::Unzip->new($archive)
  or die "pgxn-check: cannot read $archive as a zip archive: $UnzipError\n";
for (my $status = 1; $status > 0; $status = $zip->nextStream)
{
	my $name = $zip->getHeaderInfo->{Name};
	my $body = '';
	while ((my $read = $zip->read(my $buf)) > 0) { $body .= $buf; }
	$members{$name} = 1;
	$text{$name} = $body if $name =~ m{^[^/]+/(META\.json|pg_toggles\.control)$};
}

# One top directory NAME-VERSION/ holding everything: PGXN Manager repacks others.
my %tops = map { (m{^([^/]+)/} ? $1 : $_) => 1 } keys %members;
my @tops = sort keys %tops;
check(@tops == 1, 'every file is under one top directory', 'found ' . join(', ', @tops));
my $top = $tops[0];

my $meta_text = $text{"$top/META.json"};
check(defined $meta_text, "$top/META.json exists") or exit 1;
my $meta = eval { JSON::PP->new->utf8->decode($meta_text) };
check(ref $meta eq 'HASH', 'META.json is a JSON object in UTF-8', $@) or exit 1;

# Meta Spec 1.0.0 value types.
my $semver = qr/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[A-Za-z][0-9A-Za-z-]*)?$/;
sub is_term { my ($v) = @_; return !ref $v && defined $v && length($v) >= 2 && $v !~ m{[\s/\\:\p{Cntrl}]}; }
sub is_tag { my ($v) = @_; return !ref $v && defined $v && length($v) >= 1 && length($v) <= 255 && $v !~ /\p{Cntrl}/; }
sub is_string { my ($v) = @_; return !ref $v && defined $v && length($v) > 0; }
sub is_url { my ($v) = @_; return is_string($v) && $v =~ m{^[a-z][a-z0-9+.-]*:[^\s]+$}i; }
sub is_version_range
{
	my ($v) = @_;
	return 0 if ref $v || !defined $v;
	return 1 if $v eq '0';
	for my $part (split /\s*,\s*/, $v)
	{
		my $bare = $part =~ s/^(==|!=|>=|<=|>|<)\s*//r;
		return 0 unless $bare =~ $semver;
	}
	return 1;
}
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd
  freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0
  mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source restricted
  unrestricted unknown);
sub is_license
{
	my ($v) = @_;
	return 0 unless defined $v;
	return $licenses{$v} // 0 unless ref $v;
	return (@$v > 0 && !grep { !is_license($_) } @$v) if ref $v eq 'ARRAY';
	return (%$v && !grep { !is_url($_) } values %$v) if ref $v eq 'HASH';
	return 0;
}
sub extra_key { return $_[0] =~ /^[xX]_/; }

for my $key (qw(name abstract maintainer license provides version meta-spec))
{
	check(exists $meta->{$key}, "required key \"$key\"");
}
my %known = map { $_ => 1 } qw(name abstract description version maintainer license
  prereqs provides no_index release_status resources generated_by tags meta-spec);
my @unknown = grep { !$known{$_} && !extra_key($_) } sort keys %$meta;
check(!@unknown, 'no unknown top-level key (others start with x_)', join(', ', @unknown));
check(ref $meta->{'meta-spec'} eq 'HASH' && ($meta->{'meta-spec'}{version} // '') eq '1.0.0',
	'meta-spec version is 1.0.0');
check(is_term($meta->{name}), 'name is a term (two or more characters, no space, / \\ :)');
check(scalar(($meta->{version} // '') =~ $semver), "version \"$meta->{version}\" is a semantic version");
check(is_string($meta->{abstract}), 'abstract is a non-empty string');
check(!exists $meta->{description} || is_string($meta->{description}), 'description is a string');
my $maint = $meta->{maintainer};
check((is_string($maint) || (ref $maint eq 'ARRAY' && @$maint && !grep { !is_string($_) } @$maint)),
	'maintainer is a string or a list of strings');
check(is_license($meta->{license}), 'license is a known license name, a list, or name => URL');
check(!exists $meta->{release_status} || scalar($meta->{release_status} =~ /^(stable|testing|unstable)$/),
	'release_status is stable, testing or unstable');
check(!exists $meta->{generated_by} || is_string($meta->{generated_by}), 'generated_by is a string');

my $provides = $meta->{provides};
if (check(ref $provides eq 'HASH' && scalar(keys %$provides) > 0, 'provides names at least one extension'))
{
	for my $ext (sort keys %$provides)
	{
		my $p = $provides->{$ext};
		check(is_term($ext) && ref $p eq 'HASH', "provides $ext: a term with an object");
		next unless ref $p eq 'HASH';
		check(scalar(($p->{version} // '') =~ $semver), "provides $ext: version is a semantic version");
		check(is_string($p->{file}) && $members{"$top/$p->{file}"},
			"provides $ext: file $p->{file} is in the archive");
		check(!exists $p->{docfile} || (is_string($p->{docfile}) && $members{"$top/$p->{docfile}"}),
			"provides $ext: docfile is in the archive");
		check(!exists $p->{abstract} || is_string($p->{abstract}), "provides $ext: abstract is a string");
		my @bad = grep { !/^(file|version|abstract|docfile)$/ && !extra_key($_) } sort keys %$p;
		check(!@bad, "provides $ext: no unknown key", join(', ', @bad));
	}
}

my $prereqs = $meta->{prereqs} // {};
my $prereqs_ok = ref $prereqs eq 'HASH';
for my $phase (ref $prereqs eq 'HASH' ? keys %$prereqs : ())
{
	my $rels = $prereqs->{$phase};
	$prereqs_ok &&= ($phase =~ /^(configure|build|runtime|test|develop)$/ || extra_key($phase))
	  && ref $rels eq 'HASH';
	next unless ref $rels eq 'HASH';
	for my $rel (keys %$rels)
	{
		$prereqs_ok &&= ($rel =~ /^(requires|recommends|suggests|conflicts)$/ || extra_key($rel))
		  && ref $rels->{$rel} eq 'HASH'
		  && !grep { !is_version_range($_) } values %{ $rels->{$rel} };
	}
}
check($prereqs_ok, 'prereqs: phases, relations and version ranges as the spec has them');

my $res = $meta->{resources} // {};
my $res_ok = ref $res eq 'HASH';
if ($res_ok)
{
	$res_ok &&= !exists $res->{homepage} || is_url($res->{homepage});
	if (exists $res->{bugtracker})
	{
		my $b = $res->{bugtracker};
		$res_ok &&= ref $b eq 'HASH' && (!exists $b->{web} || is_url($b->{web}))
		  && (!exists $b->{mailto} || is_string($b->{mailto}));
	}
	if (exists $res->{repository})
	{
		my $r = $res->{repository};
		$res_ok &&= ref $r eq 'HASH' && (!exists $r->{url} || is_url($r->{url}))
		  && (!exists $r->{web} || is_url($r->{web}));
	}
}
check($res_ok, 'resources: homepage, bugtracker and repository are URLs');
my $tags = $meta->{tags};
check(!defined $tags || (ref $tags eq 'ARRAY' && !grep { !is_tag($_) } @$tags),
	'tags are strings of 1 to 255 characters');

# This project's rules (STYLE.md 6): one version everywhere, and a new one.
my ($control_version) = ($text{"$top/pg_toggles.control"} // '') =~ /^default_version = '([^']+)'/m;
check(defined $control_version && $control_version eq ($meta->{version} // ''),
	"META.json version equals the control file's (" . ($control_version // 'none') . ')');
check(($provides->{pg_toggles}{version} // '') eq ($meta->{version} // ''),
	'provides pg_toggles version equals META.json version');
check($top eq "$meta->{name}-$meta->{version}", "the top directory is $meta->{name}-$meta->{version}");
sub version_cmp
{
	my @a = split /[.-]/, $_[0];
	my @b = split /[.-]/, $_[1];
	for my $i (0 .. 2) { my $c = ($a[$i] // 0) <=> ($b[$i] // 0); return $c if $c; }
	return 0;
}
my @not_newer = grep { version_cmp($meta->{version}, $_) <= 0 } @released;
check(!@not_newer, "version $meta->{version} is above every released one ("
	  . (@released ? join(', ', @released) : 'none') . ')', 'released already: ' . join(', ', @not_newer));

print "$n checks, $failed failed\n";
exit($failed ? 1 : 0);
