#!/usr/bin/perl
# run.pl [--seconds N] [--jobs J] [--build DIR] [--logs DIR] [TARGET...]
# Runs the libFuzzer targets built by `make fuzz` for N seconds each (J at
# a time), on their seed corpus (seeds.pl) plus what earlier runs found
# (DIR/corpus/TARGET). Prints one line per target with its executions and
# crashes, then the totals; exits 1 if any target crashed, hung, ran out
# of memory or did not run. Crash inputs are kept in DIR/crashes/, the
# libFuzzer output of this run in DIR/logs/TIME-PID/ (or --logs).
use strict;
use warnings;
use FindBin;
use Getopt::Long;
use POSIX qw(:sys_wait_h);
use File::Path qw(make_path);

my $seconds = $ENV{FUZZ_SECONDS} // 60;
my $jobs = 2;
my $build = "$FindBin::Bin/../../build-fuzz";
my $logs;
GetOptions('seconds=i' => \$seconds, 'jobs=i' => \$jobs, 'build=s' => \$build,
    'logs=s' => \$logs)
    or die "usage: $0 [--seconds N] [--jobs J] [--build DIR] [--logs DIR] [TARGET...]\n";
# Runs may overlap (make fuzz-run while the suite runs t/fuzz.t): each
# has its own logs.
$logs //= "$build/logs/" . POSIX::strftime('%Y%m%d-%H%M%S', localtime) . "-$$";
my $dict_dir = $FindBin::Bin;
my @targets = @ARGV ? @ARGV : map { m{/(fuzz-[\w-]+)$} ? $1 : () }
    grep { -x && !/\.\w+$/ } glob("$build/fuzz-*");
die "$0: no fuzz targets in $build (make fuzz)\n" unless @targets;

system($^X, "$FindBin::Bin/seeds.pl", "$build/seeds") == 0 or die "seeds.pl failed\n";
make_path("$build/crashes", $logs);

my (%pid2t, %result);
my @queue = @targets;
while (@queue || %pid2t) {
    while (@queue && keys(%pid2t) < $jobs) {
        my $t = shift @queue;
        (my $short = $t) =~ s/^fuzz-//;
        make_path("$build/corpus/$short");
        my @argv = ("$build/$t", "-max_total_time=$seconds", '-timeout=10',
            '-rss_limit_mb=2048', '-print_final_stats=1', '-max_len=' . ($short =~ /^(config|rulefile)$/ ? 9000 : 4096),
            "-artifact_prefix=$build/crashes/$t-", "$build/corpus/$short",
            "$build/seeds/$short");
        splice @argv, 1, 0, "-dict=$dict_dir/$short.dict" if -f "$dict_dir/$short.dict";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', "$logs/$t.log" or die;
            open STDERR, '>&', \*STDOUT;
            exec @argv or die "exec $argv[0]: $!";
        }
        $pid2t{$pid} = $t;
    }
    my $pid = waitpid(-1, 0);
    last if $pid < 0;
    my $t = delete $pid2t{$pid} // next;
    $result{$t} = $?;
}

my ($total, $bad) = (0, 0);
for my $t (@targets) {
    my $log = do { local $/; open my $h, '<', "$logs/$t.log" or die; <$h> };
    my ($execs) = $log =~ /^stat::number_of_executed_units:\s*(\d+)/m;
    ($execs) = $log =~ /^Done (\d+) runs/m unless defined $execs;
    $execs //= 0;
    my ($cov) = $log =~ /^stat::new_units_added:\s*(\d+)/m;
    my $status = $result{$t};
    my $crashes = () = $log =~ /^==\d+==\s*ERROR|^SUMMARY: |deadly signal|^==\d+== ERROR: libFuzzer/mg;
    $crashes = 1 if $status != 0 && !$crashes;
    $crashes = 1 if $crashes > 1;	# one process stops at its first crash
    my ($secs) = $log =~ /^Done \d+ runs in (\d+) second/m;
    printf "%-16s executions %12d  crashes %d  new-units %d  exit %d%s\n",
        $t, $execs, $crashes, $cov // 0, $status >> 8,
        $crashes ? "  (see $logs/$t.log)" : '';
    if ($crashes) {
        my @lines = grep { /ERROR|SUMMARY|check failed|fuzz-|Test unit written|artifact/ }
            split /\n/, $log;
        print "    $_\n" for @lines[0 .. ($#lines < 7 ? $#lines : 7)];
    }
    $total += $execs;
    $bad += $crashes;
}
printf "%-16s executions %12d  crashes %d  (%d targets, %d s each)\n",
    'TOTAL', $total, $bad, scalar @targets, $seconds;
exit($bad ? 1 : 0);
