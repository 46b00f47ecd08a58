#!/usr/bin/perl
# rules-load.pl - how long each shipped rule file takes to load (parse,
# literal prefilter, TRE compile), in microseconds per rule.
#
#   perl t/bench/rules-load.pl [RULES_DIR] [RUNS]
#
# Loads each file of RULES_DIR (default rules.d) with the real loader,
# rules_load_dir(), through build/t/test-rules (which times a first load and
# a reload in-process and prints them), RUNS times (default 20), keeps the
# fastest reload and prints it per rule. Target: under 1000 us per rule.
# A benchmark, not a test: it prints numbers and exits 0, unless --check is
# given; then it exits 1 when a file is over the target. Timing depends on
# the machine; run it on a quiet one (`make bench` territory, never in
# `make check`).
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);

my $check = @ARGV && $ARGV[0] eq '--check' ? shift : 0;
my $src = "$FindBin::Bin/../..";
my $dir = shift // "$src/rules.d";
my $runs = shift // 20;
my $tr = ($ENV{AUTHSINK_BUILD} // "$src/build") . '/t/test-rules';
-x $tr or die "$tr: not built (run make)\n";

# fastest in-process reload of one rule file, in microseconds
sub fastest {
    my ($file) = @_;
    my $tmp = tempdir(CLEANUP => 1);
    symlink($file =~ m{^/} ? $file : "$ENV{PWD}/$file", "$tmp/x.rules")
        or die "symlink: $!\n";
    my ($best, $n);
    for (1 .. $runs) {
        my $out = `"$tr" "$tmp" 2>&1`;
        $out =~ /^# loaded (\d+) rules/m or die "test-rules $file:\n$out";
        $n = $1;
        $out =~ /^# reloaded in ([0-9.]+) ms/m or die "test-rules $file:\n$out";
        $best = $1 * 1000 if !defined $best || $1 * 1000 < $best;
    }
    return ($best, $n);
}

opendir my $d, $dir or die "$dir: $!\n";
my @files = sort grep { /\.rules$/ && !/^\./ } readdir $d;
closedir $d;
printf "%-22s %5s %10s %12s\n", 'file', 'rules', 'load us', 'us per rule';
my ($total_rules, $total_us, $over) = (0, 0, 0);
for my $f (@files) {
    my ($us, $n) = fastest("$dir/$f");
    my $per = $us / $n;
    $over++ if $per >= 1000;
    printf "%-22s %5d %10.0f %12.0f%s\n", $f, $n, $us, $per,
        $per >= 1000 ? '  OVER 1000 us' : '';
    $total_rules += $n;
    $total_us += $us;
}
printf "%-22s %5d %10.0f %12.0f\n", 'total', $total_rules, $total_us,
    $total_rules ? $total_us / $total_rules : 0;
exit($check && $over ? 1 : 0);
