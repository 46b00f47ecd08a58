#!/usr/bin/perl
# `authsink reload` and `authsink dump`: find authsinkd through the pid
# file of its configuration (-c) and send SIGHUP / SIGUSR1; refuse
# clearly (exit 2) when the pid file is missing, stale or not authsinkd's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $dir = temp_dir();
mkdir "$dir/rules" or die;
write_file("$dir/rules/a.rules", <<'EOF');
[first]
program = dovecot
match   = imap-login: Login: user=<([^>]*)>, method=[^,]*, rip=([0-9.]+)
user    = 1
address = 2
EOF
my $d = start_daemon(dir => $dir, rules => "$dir/rules");
my @c = ('-c', $d->{conf});
sub live { (authsink('-t', $d->{table}, 'check', $_[0]))[0] == 0 }

# reload: a rule added on disk is active after `authsink reload`.
write_file("$dir/rules/b.rules", <<'EOF');
[second]
program = courierpop3login
match   = LOGIN, user=([^,]*), ip=\[([^]]*)\]
user    = 1
address = 2
EOF
my $courier = "<38>1 - mx courierpop3login - - - LOGIN, user=ann, ip=[192.0.2.44], port=[1234]";
send_udp($d->{udp}, $courier);
sleep 1;
ok(!live('192.0.2.44'), 'before reload the new rule is not active');
my ($rc, $out, $err) = authsink(@c, 'reload');
is($rc, 0, 'reload: exit 0');
like($out, qr/authsinkd \(pid $d->{pid}\)/, 'reload: names the pid');
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /reloaded/ }, 10), 'authsinkd logged the reload');
send_udp($d->{udp}, $courier);
ok(wait_until(sub { live('192.0.2.44') }, 10), 'after reload the new rule is active');

# dump: the daemon writes its state, authsink shows it.
($rc, $out, $err) = authsink(@c, 'dump');
is($rc, 0, 'dump: exit 0');
like($out, qr/^authsinkd \S+ pid $d->{pid} /m, 'dump: state of this very daemon');
like($out, qr/^received [1-9]\d*$/m, 'dump: counters');
like($out, qr/^rule second 1$/m, 'dump: per-rule counts');
my ($rc2, $out2) = authsink(@c, 'dump');
is($rc2, 0, 'dump twice: waits for the new dump, not the old file');
like($out2, qr/^authsinkd .* at \d+$/m, 'dump twice: state again');

# Errors. The pid file points at a process that is not authsinkd: this
# test itself, which SIGHUP would kill.
my $pidfile = $d->{pidfile};
my $real = Authsink::slurp($pidfile);
write_file($pidfile, "$$\n");
($rc, $out, $err) = authsink(@c, 'reload');
is($rc, 2, 'pid of another program: exit 2');
like($err, qr/^authsink: stale pid file .*not authsinkd\n\z/, 'pid of another program: says so');
pass('and this test is still alive');

write_file($pidfile, "garbage\n");
($rc, $out, $err) = authsink(@c, 'dump');
is($rc, 2, 'garbage pid file: exit 2');
like($err, qr/does not hold a process id/, 'garbage pid file: says so');

write_file($pidfile, $real);
Authsink::stop_daemon($d);
ok(!-e $pidfile, 'authsinkd removed its pid file');
($rc, $out, $err) = authsink(@c, 'reload');
is($rc, 2, 'no pid file: exit 2');
like($err, qr/^authsink: cannot read pid file \Q$pidfile\E: No such file/,
    'no pid file: says so and names it');

# A pid file left by a crash, its process gone.
my $dead = fork // die;
POSIX::_exit(0) if $dead == 0;
waitpid $dead, 0;
write_file($pidfile, "$dead\n");
($rc, $out, $err) = authsink(@c, 'dump');
is($rc, 2, 'stale pid file: exit 2');
like($err, qr/stale pid file .*no process $dead/, 'stale pid file: says so');

($rc, $out, $err) = authsink(@c, 'reload', 'extra');
is($rc, 2, 'stray argument: exit 2');

done_testing;
