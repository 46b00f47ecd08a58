#!/usr/bin/perl
# Stream listeners against slow, stalled, greedy and hostile clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

my $d = start_daemon(extra => "idle-timeout = 1\nmax-connections = 3\nmax-message = 1024\n");
my @t = ('-t', $d->{table});
my $n = 0;
sub line { "<38>1 - mx dovecot - - - " . dovecot_login('u' . ++$n, $_[0]) }
sub allowed { relayed($d, $_[0]) }
sub connect_tcp {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $d->{tcp}, Proto => 'tcp')
        or die "connect: $!";
}
# 1 if the server closed the connection within $secs.
sub closed_by_server {
    my ($s, $secs) = @_;
    return 0 unless IO::Select->new($s)->can_read($secs);
    my $r = sysread($s, my $buf, 1);
    return defined $r && $r == 0 ? 1 : (!defined $r ? 1 : 0);
}

# --- a client stalled inside a frame is closed; one idle between frames is not ---
my $stalled = connect_tcp();
print $stalled "120 <38>1 - mx dovecot - - - imap-login: Lo";
$stalled->flush;
my $idle = connect_tcp();
my $m = line('192.0.2.1');
print $idle length($m) . " $m";
$idle->flush;
ok(wait_until(sub { allowed('192.0.2.1') }), 'complete frame recorded');
ok(closed_by_server($stalled, 10), 'connection stalled inside a frame is closed');
is(counter($d, 'stalled'), 1, '  and counted');
sleep 1.5;
$m = line('192.0.2.2');
print $idle length($m) . " $m";
$idle->flush;
ok(wait_until(sub { allowed('192.0.2.2') }), 'connection idle between frames stays open');

# --- a slow client, one byte at a time, is fine while it keeps coming ---
{
    my $slow = connect_tcp();
    for my $c (split //, line('192.0.2.3') . "\n") {
        print $slow $c; $slow->flush; sleep 0.005;
    }
    ok(wait_until(sub { allowed('192.0.2.3') }), 'slow client, byte by byte');
    close $slow;
}

# --- max-connections ---
{
    my @conns = map { connect_tcp() } 1 .. 2;    # plus $idle = 3
    my $extra = connect_tcp();
    ok(closed_by_server($extra, 5), 'connection beyond max-connections is closed');
    my $m2 = line('192.0.2.4');
    print { $conns[0] } "$m2\n";
    $conns[0]->flush;
    ok(wait_until(sub { allowed('192.0.2.4') }), 'the others keep working');
    close $_ for @conns, $extra;
}
close $idle;

# --- hostile octet counts ---
{
    my $s = connect_tcp();
    print $s "99999999999 <38>1 - mx dovecot - - - x";
    $s->flush;
    ok(closed_by_server($s, 5), 'absurd octet count (11 digits): framing error, closed');
    ok(counter($d, 'framing_errors') >= 1, '  and counted');

    # A huge but representable count is never allocated; the frame ends
    # incomplete at EOF and is dropped.
    my $errors = counter($d, 'framing_errors');
    my $big = connect_tcp();
    print $big "900000000 " . line('192.0.2.5') . ('x' x 4000);
    $big->flush;
    close $big;
    ok(wait_until(sub { counter($d, 'framing_errors') > $errors }),
        'incomplete 900 MB frame at end of stream is dropped and counted');
    my $long = line('192.0.2.9') . ('y' x 4000);
    my $s2 = connect_tcp();
    print $s2 length($long) . " $long";
    close $s2;
    ok(wait_until(sub { counter($d, 'truncated') >= 1 }),
        'complete frame over max-message is truncated and counted');
    my $rss = (Authsink::slurp("/proc/$d->{pid}/status") =~ /^VmRSS:\s+(\d+)/m)[0];
    cmp_ok($rss, '<', 200_000, "daemon did not allocate the announced 900 MB (RSS ${rss} kB)");

    my $lf = connect_tcp();
    # (a padded element that no rule accepts: ', x=<pad pad ...')
    print $lf line('192.0.2.6') . ', x=<' . (' pad' x 400) . "\n" . line('192.0.2.7') . "\n";
    close $lf;
    ok(wait_until(sub { allowed('192.0.2.7') }), 'line after an oversize LF frame is intact');
    ok(!allowed('192.0.2.6'), '  the truncated one matches nothing');
}

# --- a UDP flood does not starve a stream client ---
{
    my $pid = fork // die;
    if ($pid == 0) {
        my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $d->{udp},
            Proto => 'udp') or POSIX::_exit(1);
        my $noise = "<22>1 - mx postfix/smtpd 1 - - connect from unknown[192.0.2.200]";
        $u->send($noise) for 1 .. 300000;
        POSIX::_exit(0);
    }
    sleep 0.2;
    my $s = connect_tcp();
    print $s line('192.0.2.8') . "\n";
    close $s;
    ok(wait_until(sub { allowed('192.0.2.8') }, 20), 'TCP login gets through during a UDP flood');
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

is(Authsink::stop_daemon($d), 0, 'clean exit');
done_testing;
