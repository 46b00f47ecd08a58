#!/usr/bin/perl
# authsinkd under valgrind (memcheck) end to end: logins over every
# listener kind, a malformed and an oversize message, a stream left open
# with half a frame, SIGHUP (rules reloaded), SIGUSR1 (dump), SIGALRM
# (sweep), then SIGTERM. The daemon must exit 0 with no invalid access,
# no use of uninitialised memory and no definitely or indirectly lost
# block: valgrind's own exit status (--error-exitcode) says so, its log
# says which.
# Skipped without valgrind, except in CI.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $valgrind = need_program('valgrind', 'valgrind');
# `make asan` runs the suite on sanitized binaries, which valgrind cannot run.
plan skip_all => 'authsinkd is built with a sanitizer (make asan): no valgrind'
    if Authsink::sanitized();
my $dir = temp_dir();
my $vlog = "$dir/valgrind.log";
my $d = start_daemon(dir => $dir, extra => "ttl = 30m\n", wrap => [$valgrind,
    '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect',
    '--show-leak-kinds=definite,indirect', '--track-origins=yes', '--num-callers=30',
    "--log-file=$vlog"], start_timeout => 120);
sub allowed { relayed($d, $_[0]) }
sub visible { my $a = shift; wait_until(sub { allowed($a) }, 30) }
my $n = 0;
sub line { dovecot_line('u' . ++$n, $_[0]) }

send_udp($d->{udp}, line('192.0.2.1'));
ok(visible('192.0.2.1'), 'UDP login recorded under valgrind');

send_tcp($d->{tcp}, length(line('192.0.2.2')) . ' ' . line('192.0.2.2') . line('192.0.2.3') . "\n");
ok(visible('192.0.2.3'), 'TCP logins, octet-counted and LF framed');
ok(allowed('192.0.2.2'), '  both');

send_unix_dgram($d->{sock}, line('2001:db8::4'));
ok(visible('2001:db8::4'), 'UNIX datagram login');

my $half = unix_stream($d);
print $half line('192.0.2.5') . "\n" . "200 <38>1 - mx dovecot - - - half a fra";
$half->flush;
ok(visible('192.0.2.5'), 'UNIX stream login (the connection stays open with half a frame)');

send_udp($d->{udp}, '<999>garbage');
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . ('x' x 9000));
send_tcp($d->{tcp}, "99999999999 too long a length\n");
send_udp($d->{udp}, dovecot_line('bad', '0.0.0.0'));

kill 'HUP', $d->{pid};
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /^.*reloaded .*: [1-9]\d* rules from/m }, 30),
    'SIGHUP: configuration and rules reloaded');
send_udp($d->{udp}, line('192.0.2.6'));
ok(visible('192.0.2.6'), 'a login after the reload');
kill 'USR1', $d->{pid};
ok(wait_until(sub { -s "$dir/authsinkd.dump" }, 30), 'SIGUSR1 dump written');
kill 'ALRM', $d->{pid};
is((authsink('-t', $d->{table}, 'add', '192.0.2.7', '--ttl', '1'))[0], 0,
    'an entry added by hand (expires in 1 s), swept later');
# SIGALRM until the sweep has removed it (its second may not be over yet)
ok(wait_until(sub { kill 'ALRM', $d->{pid}; sleep 0.3; counter($d, 'swept', 30) >= 1 }, 60),
    'SIGALRM: the expired entry swept');
send_udp($d->{udp}, line('192.0.2.8'));
ok(visible('192.0.2.8'), 'a login after the sweep');

# SIGTERM with the half-frame connection still open; the leak check at
# exit takes valgrind a while.
my $pid = delete $d->{pid};
kill 'TERM', $pid;
my $exited = wait_until(sub { waitpid($pid, WNOHANG) == $pid }, 120);
my $status = $?;
unless ($exited) { kill 'KILL', $pid; waitpid $pid, 0; }
close $half;
ok($exited, 'authsinkd exits on SIGTERM under valgrind');
my $log = Authsink::slurp($vlog);
is($status >> 8, 0, 'exit status 0 (valgrind\'s error exit code is 99)')
    or diag($log);
is($status & 127, 0, 'no signal');

# (the log is printed once, above, when valgrind found anything)
ok($log =~ /ERROR SUMMARY: 0 errors/, 'valgrind: no invalid access or uninitialised use');
ok($log =~ /definitely lost: 0 bytes|All heap blocks were freed/,
    'valgrind: nothing definitely lost');
ok($log =~ /indirectly lost: 0 bytes|All heap blocks were freed/,
    'valgrind: nothing indirectly lost');
my ($heap) = $log =~ /(total heap usage: [^\n]*)/;
my ($leak) = $log =~ /(LEAK SUMMARY:.*?suppressed:[^\n]*)/s;
diag($heap) if $heap;
diag($leak =~ s/==\d+==\s*/  /gr) if $leak;

done_testing();
