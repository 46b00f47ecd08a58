#!/usr/bin/perl
# The manual pages: mandoc -Tlint finds nothing (but missing cross-
# referenced pages), and they document exactly what the programs accept:
# authsink -h's commands and options vs authsink(1), authsinkd -h's options
# vs authsinkd(8), the keys src/lib/config.c accepts vs authsink.conf(5).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $mandoc = need_program('mandoc', 'mandoc');
my $src = src_dir();
my @pages = sort glob("$src/man/*.[158]");
ok(scalar(grep { m{/authsink\.1$} } @pages), 'authsink.1 exists');
ok(scalar(grep { m{/authsinkd\.8$} } @pages), 'authsinkd.8 exists');
ok(scalar(grep { m{/authsink\.conf\.5$} } @pages), 'authsink.conf.5 exists');

sub slurp_file { my ($f) = @_; open my $h, '<', $f or die "$f: $!"; local $/; <$h> }

# (a) lint
for my $page (@pages) {
    my ($rc, $out, $err) = run_cmd($mandoc, '-Tlint', '-W', 'style', $page);
    my @problems = grep { !/referenced manual not found|outdated mandoc\.db/ }
        split /\n/, "$out$err";
    is_deeply(\@problems, [], "mandoc -Tlint $page") or diag(join "\n", @problems);
    ($rc, $out, $err) = run_cmd($mandoc, '-Tutf8', $page);
    is($rc, 0, "$page renders");
    like($out, qr/\S/, "$page renders to text");
}

# mdoc helpers: a section's text; `.It Cm x` / `.It Xo` + `.Cm x` items.
sub section {
    my ($text, $name) = @_;
    return $text =~ /^\.Sh \Q$name\E\n(.*?)(?=^\.Sh |\z)/ms ? $1 : '';
}
# The top-level items of a section's first list: name => text of the item
# (nested lists, like the export formats, belong to their item).
sub items {
    my ($text) = @_;
    my (%items, $cur, $depth);
    $depth = 0;
    my @lines = split /\n/, $text;
    for (my $i = 0; $i < @lines; $i++) {
        my $l = $lines[$i];
        if ($l =~ /^\.Bl\b/) { $depth++ }
        elsif ($l =~ /^\.El\b/) { $depth-- }
        elsif ($depth == 1 && $l =~ /^\.It\b/) {
            my $head = $l eq '.It Xo' ? ($lines[$i + 1] // '') : $l;
            $cur = $head =~ /^(?:\.It )?\.?Cm (\S+)/ ? $1 : undef;
            $items{$cur} = '' if defined $cur;
        }
        $items{$cur} .= "$l\n" if defined $cur && $depth >= 1;
    }
    return \%items;
}

# (b) authsink -h vs authsink.1
my ($rc, $help) = authsink('-h');
is($rc, 0, 'authsink -h: exit 0');
my ($cmds_text) = $help =~ /^commands:\n(.*?)(?:\n\n|\z)/ms;
my %help_cmds;
for (split /\n/, $cmds_text // '') {
    next unless /^  (\w+)(.*)/;
    my ($name, $rest) = ($1, $2);
    $rest =~ s/  .*//;	# the arguments, not the description
    $help_cmds{$name} = [ $rest =~ /(--[a-z][a-z-]*|(?<![\w-])-[a-zA-Z]+)/g ];
}
cmp_ok(scalar(keys %help_cmds), '>=', 13, 'authsink -h lists the commands');

my $man1 = slurp_file("$src/man/authsink.1");
my $commands = section($man1, 'COMMANDS');
my $documented = items($commands);
is_deeply([sort keys %$documented], [sort keys %help_cmds],
    'authsink.1 COMMANDS documents exactly the commands of authsink -h');
my $synopsis = section($man1, 'SYNOPSIS');
my %syn;
$syn{$1} = 1 while $synopsis =~ /^\.Nm\n\.Cm (\w+)/mg;
is_deeply([sort keys %syn], [sort keys %help_cmds], 'every command is in the SYNOPSIS');

# Each command's options, as -h shows them, are in its COMMANDS entry.
for my $cmd (sort keys %help_cmds) {
    my $entry = $documented->{$cmd} // '';
    # `test` shows -qv as one group
    my @opts = map { /^-([a-zA-Z]{2,})$/ ? map({ "-$_" } split //, $1) : $_ } @{ $help_cmds{$cmd} };
    for my $o (@opts) {
        my $mdoc = $o =~ /^--(.*)/ ? "Fl Fl $1" : $o =~ /^-(.)/ ? "Fl $1" : $o;
        ok($entry =~ /\Q$mdoc\E\b/ || ($o =~ /^-(.)$/ && $entry =~ /Fl [a-zA-Z]*\Q$1\E/),
            "authsink.1: $cmd $o documented");
    }
}
# Global options.
my %gopts;
$gopts{$1} = 1 while $help =~ /^  (-\w) /mg;
$gopts{$_} = 1 for $help =~ /authsink -h \| -V/ ? ('-h', '-V') : ();
my $desc = section($man1, 'DESCRIPTION');
my %mopts;
$mopts{"-$1"} = 1 while $desc =~ /^\.It Fl (\w)/mg;
is_deeply([sort keys %mopts], [sort keys %gopts], 'authsink.1 documents the global options of -h');

# Every exit status a command can return is described.
my $exit = section($man1, 'EXIT STATUS');
like($exit, qr/^\.It $_$/m, "authsink.1: exit status $_") for 0 .. 2;

# (c) authsinkd -h vs authsinkd.8
($rc, $help) = run_cmd(build_dir() . '/authsinkd', '-h');
is($rc, 0, 'authsinkd -h: exit 0');
my %dopts;
$dopts{$1} = 1 while $help =~ /^\s+(-\w)\b/mg;
delete $dopts{'-h'};
my $man8 = slurp_file("$src/man/authsinkd.8");
my $desc8 = section($man8, 'DESCRIPTION');
my %m8;
$m8{"-$1"} = 1 while $desc8 =~ /^\.It Fl (\w)/mg;
is_deeply([sort keys %m8], [sort keys %dopts], 'authsinkd.8 documents the options of authsinkd -h');

# (d) config keys: src/lib/config.c vs authsink.conf.5
my $config_c = slurp_file("$src/src/lib/config.c");
my ($apply) = $config_c =~ /^apply\(.*?^\}/ms ? $& : $config_c;
my %keys;
$keys{$1} = 1 while $apply =~ /strcmp\(key, "([a-z][a-z-]*)"\)/g;
cmp_ok(scalar(keys %keys), '>=', 15, 'config keys found in config.c');
my $man5 = slurp_file("$src/man/authsink.conf.5");
my %m5;
$m5{$1} = 1 while $man5 =~ /^\.It Cm ([a-z][a-z-]*) = /mg;
is_deeply([sort keys %m5], [sort keys %keys],
    'authsink.conf.5 documents exactly the keys config.c accepts');

# And each documented key really is accepted (the parser, not the source).
my $dir = temp_dir();
for my $k (sort keys %m5) {
    my ($rc, $out, $err) = run_cmd(build_dir() . '/authsinkd', '-t', '-c',
        write_file("$dir/k.conf", "$k = x\n"));
    unlike("$out$err", qr/unknown key/, "authsinkd knows key $k");
}

done_testing;
