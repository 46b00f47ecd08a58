#!/usr/bin/perl
# `authsink test` with the shipped rules over real log files
# (t/data/corpus/*.log): the summary and every rule's count must be exactly
# those of t/data/corpus/expected, so a rule that stops matching a real
# login, or starts matching a look-alike, fails here. The copies of the
# shared corpus are compared with ../shared/corpus when it exists.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $src = src_dir();
my $data = "$src/t/data/corpus";
my $rules = "$src/rules.d";
my $A = build_dir() . '/authsink';
-x $A or BAIL_OUT("$A not built");

sub slurp_file { my ($f) = @_; open my $h, '<', $f or die "$f: $!"; local $/; <$h> // "" }

# run `authsink test -q [OPTIONS] RULES < FILE` -> (rc, stdout, stderr)
sub t_run {
    my ($file, @opts) = @_;
    my $dir = temp_dir();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', $file or die "$file: $!";
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>', "$dir/err" or die;
        exec $A, 'test', '-q', @opts, $rules or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return ($? >> 8, slurp_file("$dir/out"), slurp_file("$dir/err"));
}

# the rule names of the shipped set, from a run over nothing
my ($rc0, $out0) = t_run('/dev/null');
my @all = $out0 =~ /^-- rule (\S+): /mg;
ok(@all >= 12, scalar(@all) . " shipped rules");

my %seen;
my @runs;
for my $line (split /\n/, slurp_file("$data/expected")) {
    next if $line =~ /^\s*(#|$)/;
    my ($head, $sum, $counts) = split /\s*\|\s*/, $line, 3;
    my ($file, @opts) = split ' ', $head;
    push @runs, [$file, \@opts, [split ' ', $sum], $counts // ''];
    $seen{$file} = 1;
}

opendir my $d, $data or die "$data: $!";
my @logs = sort grep { /\.log$/ } readdir $d;
closedir $d;
ok(scalar @logs, scalar(@logs) . ' log files in t/data/corpus');
ok($seen{$_}, "$_ has an entry in t/data/corpus/expected") for @logs;

for my $r (@runs) {
    my ($file, $opts, $sum, $counts) = @$r;
    my $name = join ' ', $file, @$opts;
    my ($rc, $out, $err) = t_run("$data/$file", @$opts);
    is($err, '', "$name: nothing on stderr");
    my ($lines, $matched, $ignored, $nomatch, $malformed) = $out =~
        /^-- (\d+) lines: (\d+) matched \((\d+) with an ignored address\), (\d+) no match, (\d+) malformed$/m;
    is_deeply([$lines, $matched, $ignored, $nomatch, $malformed], $sum,
        "$name: lines matched ignored nomatch malformed = @$sum");
    is($rc, $matched ? 0 : 1, "$name: exit status");
    my %want = map { split /=/, $_, 2 } split ' ', $counts;
    my %got = $out =~ /^-- rule (\S+): (\d+) /mg;
    for my $rule (@all) {
        is($got{$rule} // 'missing', $want{$rule} // 0, "$name: rule $rule");
    }
    ok(exists $got{$_}, "$name: expected rule $_ exists") for sort keys %want;
}

# the copies of the shared corpus are still the shared corpus
my $shared = "$src/../shared/corpus";
SKIP: {
    skip "no shared corpus at $shared (a fresh clone): the copies in t/data/corpus are used", 1
        unless -d $shared;
    opendir my $s, $shared or die;
    my @shared = sort grep { /\.log$/ } readdir $s;
    closedir $s;
    for my $f (@shared) {
        ok(-f "$data/$f" && slurp_file("$data/$f") eq slurp_file("$shared/$f"),
            "t/data/corpus/$f is a copy of $shared/$f");
    }
}

done_testing();
