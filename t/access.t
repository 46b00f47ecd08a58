#!/usr/bin/perl
# Who may talk to authsinkd: per-listener allow-from, UNIX socket modes and
# owners, peer credentials, forged lines without trusted metadata, and the
# privilege drop. Everything refused is counted and never parsed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use POSIX qw(:sys_wait_h);

my $root = $> == 0;
my $n = 0;
sub line { "<38>1 - mx dovecot - - - " . dovecot_login('u' . ++$n, $_[0]) }


sub udp_from {
    my ($from, $port, $msg) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $from, PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'udp') or die "udp from $from: $!";
    $s->send($msg);
}

sub tcp_from {
    my ($from, $port, $msg) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $from, PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'tcp') or die "tcp from $from: $!";
    print $s "$msg\n";
    close $s;
}

# As another user: a child that drops to nobody before sending.
sub as_nobody {
    my ($code) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        $) = "65534 65534"; $( = 65534; $< = $> = 65534;
        eval { $code->() };
        POSIX::_exit($@ ? 1 : 0);
    }
    waitpid $pid, 0;
    return $? == 0;
}

my ($udp, $tcp) = (free_port(), free_port());
my $dir = temp_dir();
chmod 0755, $dir;
my @listen = ("udp:127.0.0.1:$udp allow-from=127.0.0.2/32,::1",
    "tcp:127.0.0.1:$tcp allow-from=127.0.0.3",
    "unix-dgram:$dir/open.sock mode=0620",
    "unix-dgram:$dir/root-only.sock mode=0666 peer-uid=root",
    "unix:$dir/root-only.stream mode=0666 peer-uid=0");
push @listen, "unix-dgram:$dir/owned.sock owner=nobody group=nogroup mode=0660" if $root;
my $d = start_daemon(dir => $dir, listen => \@listen);
my @t = ('-t', $d->{table});
sub allowed { relayed($d, $_[0]) }

# --- per-listener allow-from ---
udp_from('127.0.0.1', $udp, line('192.0.2.1'));
udp_from('127.0.0.2', $udp, line('192.0.2.2'));
ok(wait_until(sub { allowed('192.0.2.2') }), 'UDP from an allowed peer is recorded');
ok(!allowed('192.0.2.1'), 'UDP from a peer outside allow-from= is not (loopback is not implied)');
tcp_from('127.0.0.2', $tcp, line('192.0.2.3'));
tcp_from('127.0.0.3', $tcp, line('192.0.2.4'));
ok(wait_until(sub { allowed('192.0.2.4') }), 'TCP from an allowed peer is recorded');
ok(!allowed('192.0.2.3'), 'TCP from another peer is refused');
is(counter($d, 'refused'), 2, 'refused messages are counted');
is(counter($d, 'malformed'), 0, '  and never reach the parser');

# --- socket files ---
is((stat "$dir/open.sock")[2] & 07777, 0620, 'mode= sets the socket file mode');
if ($root) {
    my @st = stat "$dir/owned.sock";
    is_deeply([$st[4], $st[5], $st[2] & 07777], [65534, 65534, 0660],
        'owner= group= mode= on a UNIX socket');
}

# --- peer credentials (SO_PASSCRED / SO_PEERCRED) ---
SKIP: {
    skip 'peer credential tests need root (to send as another user)', 4 unless $root;
    ok(as_nobody(sub {
        my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Peer => "$dir/root-only.sock") or die;
        $s->send(line('192.0.2.10')) or die;
    }), 'nobody can write to the socket file');
    send_unix_dgram("$dir/root-only.sock", line('192.0.2.11'));
    ok(wait_until(sub { allowed('192.0.2.11') }), 'datagram from an allowed uid is recorded');
    ok(!allowed('192.0.2.10'), 'datagram from another uid is refused (SO_PASSCRED)');
    as_nobody(sub {
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$dir/root-only.stream") or die;
        print $s line('192.0.2.12') . "\n";
        close $s;
    });
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$dir/root-only.stream") or die;
    print $s line('192.0.2.13') . "\n";
    close $s;
    ok(wait_until(sub { allowed('192.0.2.13') }) && !allowed('192.0.2.12'),
        'stream peer credentials checked (SO_PEERCRED)');
}

# --- forged lines: a rule that requires trusted metadata ---
{
    my $rules = "$dir/trusted-rules";
    mkdir $rules;
    open my $r, '>', "$rules/trusted.rules" or die;
    print $r <<'RULE';
# Only lines that rsyslog's imuxsock annotated with the real executable.
[trusted-dovecot]
program = dovecot
require = authsink@32473:exe=/usr/lib/dovecot/log
match   = ^imap-login: Login: user=<([^>]*)>, method=[A-Z]+, rip=([0-9.]+), lip=
user    = 1
address = 2
RULE
    close $r;
    my $td = start_daemon(rules => $rules);
    my $forged = 0;
    for my $i (1 .. 50) {
        send_udp($td->{udp}, line("198.51.100.$i"));
        send_udp($td->{udp}, "<38>1 - mx dovecot - - [authsink\@32473 exe=\"/usr/bin/logger\"] "
            . dovecot_login('x', "198.51.101.$i"));
    }
    send_udp($td->{udp}, "<38>1 - mx dovecot - - [authsink\@32473 exe=\"/usr/lib/dovecot/log\"] "
        . dovecot_login('real', '203.0.113.5'));
    ok(wait_until(sub { (authsink('-t', $td->{table}, 'check', '203.0.113.5'))[0] == 0 }),
        'line with trusted metadata is recorded');
    my ($rc, $list) = authsink('-t', $td->{table}, 'list');
    my $entries = () = $list =~ /^\d/mg;
    is($entries, 1, '100 forged lines (no metadata, or the wrong exe) relay nothing');
}

# --- privilege drop ---
SKIP: {
    skip 'privilege drop needs root', 4 unless $root;
    my $pd = temp_dir();
    chmod 0755, $pd;
    my $p = start_daemon(dir => $pd, listen => ['udp:127.0.0.1:' . free_port(),
        "unix-dgram:$pd/state/log.sock"],
        extra => "user = nobody\ntable = $pd/state/relay.tdb\npidfile = $pd/run/authsinkd.pid\n",
        no_start => 1);
    $p->{pidfile} = "$pd/run/authsinkd.pid";
    $p->{table} = "$pd/state/relay.tdb";
    Authsink::restart_daemon($p);
    my $status = Authsink::slurp("/proc/$p->{pid}/status");
    like($status, qr/^Uid:\s+65534\s+65534\s+65534\s+65534$/m, 'runs as nobody after binding');
    like($status, qr/^Gid:\s+65534\s+65534\s+65534\s+65534$/m, '  with its group');
    my @st = stat $p->{table};
    is_deeply([$st[4], $st[2] & 07777], [65534, 0644], 'table owned by the user, mode 0644');
    is(Authsink::stop_daemon($p), 0, 'dropped daemon still exits cleanly');
}

done_testing;
