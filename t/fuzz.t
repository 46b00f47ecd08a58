#!/usr/bin/perl
# A bounded fuzz run: every libFuzzer target in t/fuzz/ (make fuzz) runs
# for a short time on its seed corpus and must not crash, hang or leak
# (ASan+UBSan). Needs clang with libFuzzer (.ci/deps asan): skipped
# without it, required in CI. AUTHSINK_FUZZ_SECONDS sets the time per
# target (default 20 in CI, 10 elsewhere); `make fuzz-run` is the long run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $src = src_dir();
my $seconds = $ENV{AUTHSINK_FUZZ_SECONDS} // (in_ci() ? 20 : 10);

# clang that links -fsanitize=fuzzer (the libclang-rt-*-dev runtime).
my $have = do {
    my $dir = temp_dir();
    open my $c, '>', "$dir/t.c" or die;
    print $c "#include <stdint.h>\n#include <stddef.h>\n"
        . "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
        . " { (void)d; (void)n; return 0; }\n";
    close $c;
    (run_cmd('clang', '-fsanitize=fuzzer,address,undefined', '-o', "$dir/t", "$dir/t.c"))[0] == 0;
};
unless ($have) {
    BAIL_OUT('clang with libFuzzer (apt-get install clang libclang-rt-14-dev) '
        . 'is required in CI') if in_ci();
    plan skip_all => 'clang with libFuzzer not installed (sh .ci/deps asan)';
}

# A make of our own, not a job of the `make check` (or `make asan`) that
# may run us, and libFuzzer's own sanitizer settings.
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CC CFLAGS
    ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS)};
my ($rc, $out, $err) = run_cmd('make', '-C', $src, '--no-print-directory', 'fuzz');
is($rc, 0, 'make fuzz builds the targets') or diag("$out$err");
my @targets = map { m{/(fuzz-[\w-]+)\.c$} } glob("$src/t/fuzz/fuzz-*.c");
ok(@targets >= 5, scalar(@targets) . ' fuzz targets');

my $logs = temp_dir();
($rc, $out, $err) = run_cmd($^X, "$src/t/fuzz/run.pl", '--build', "$src/build-fuzz",
    '--logs', $logs, '--seconds', $seconds, '--jobs', 2, @targets);
diag($err) if $err ne '';
for my $t (@targets) {
    my ($line) = $out =~ /^(\Q$t\E\s.*)$/m;
    ok(defined $line && $line =~ /executions\s+([1-9]\d*)\s+crashes 0\b/,
        "$t: runs ${seconds}s without a crash") or diag($line // "no result for $t\n$out");
    diag($line) if defined $line;
}
is($rc, 0, 'run.pl reports no crash') or diag($out);
my ($total) = $out =~ /^(TOTAL\s.*)$/m;
diag($total) if $total;

done_testing();
