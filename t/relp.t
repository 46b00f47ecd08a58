#!/usr/bin/perl
# The relp: listener, spoken by hand: the open handshake, a message is
# acknowledged only once the login it carries is in the table, pipelined
# messages, close, and what is not RELP. rsyslog's omrelp against it is
# t/multihost.t (and t/bench/lasthop.pl).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use IO::Socket::INET;
use IO::Select;

my $port = free_port();
my $d = start_daemon(listen => ["relp:127.0.0.1:$port"], extra => "ttl = 1h\n");

sub relp_connect {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!";
    $s->autoflush(1);
    return { s => $s, buf => '' };
}

sub frame {
    my ($txnr, $cmd, $data) = @_;
    $data //= '';
    return "$txnr $cmd " . length($data) . (length $data ? " $data" : '') . "\n";
}

# One response frame: (txnr, command, data), or () on EOF or timeout.
sub response {
    my ($c, $timeout) = @_;
    my $sel = IO::Select->new($c->{s});
    my $end = time + ($timeout // 10);
    while (1) {
        if ($c->{buf} =~ /\A(\d+) (\w+) (\d+)[ \n]/) {
            my ($txnr, $cmd, $len) = ($1, $2, $3);
            my $head = length("$txnr $cmd $len") + ($len ? 1 : 0);
            if (length($c->{buf}) >= $head + $len + 1) {
                my $data = substr($c->{buf}, $head, $len);
                die "bad trailer" unless substr($c->{buf}, $head + $len, 1) eq "\n";
                substr($c->{buf}, 0, $head + $len + 1, '');
                return ($txnr, $cmd, $data);
            }
        }
        my $left = $end - time;
        return () if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($c->{s}, my $chunk, 65536);
        return () unless $n;
        $c->{buf} .= $chunk;
    }
}

my $c = relp_connect();
print { $c->{s} } frame(1, 'syslog', dovecot_line('eve', '192.0.2.50'));
my @r = response($c);
is($r[0], 1, 'syslog before open: answered');
like($r[2] // '', qr/^500 /, '  with 500');
ok(!relayed($d, '192.0.2.50'), '  and nothing recorded');

print { $c->{s} } frame(2, 'open', "relp_version=0\nrelp_software=test\ncommands=syslog");
@r = response($c);
is_deeply([@r[0, 1]], [2, 'rsp'], 'open answered');
like($r[2] // '', qr/\A200 OK\n/, '  200 OK');
like($r[2] // '', qr/^relp_version=0$/m, '  relp_version=0');
like($r[2] // '', qr/^commands=syslog$/m, '  commands=syslog');

# The answer to a login comes after its commit: the table has it already.
print { $c->{s} } frame(3, 'syslog', dovecot_line('alice', '192.0.2.51'));
@r = response($c);
is_deeply(\@r, [3, 'rsp', '200 OK'], 'a login is acknowledged: 3 rsp 6 200 OK');
ok(relayed($d, '192.0.2.51'), '  and is in the table when the answer arrives');

# 200 frames in one write, logins and other lines mixed.
my $bytes = '';
for my $i (1 .. 200) {
    $bytes .= frame(100 + $i, 'syslog', $i % 2
        ? dovecot_line("u$i", "198.51.100.$i")
        : "<38>1 - mx dovecot - - - imap(u$i): Disconnected: Logged out");
}
print { $c->{s} } $bytes;
my @acked;
while (@acked < 200) {
    my @f = response($c) or last;
    push @acked, $f[0] if $f[1] eq 'rsp' && $f[2] eq '200 OK';
}
is_deeply(\@acked, [101 .. 300], '200 pipelined messages, 200 answers in order');
my @missing = grep { !relayed($d, "198.51.100.$_") } grep { $_ % 2 } 1 .. 200;
is(scalar @missing, 0, '  all 100 logins in the table once answered');

# While another writer holds the table, nothing can be committed, so the
# login is not answered; it is once the table is free again.
SKIP: {
    skip 'python3-tdb not installed', 3
        unless !system('/usr/bin/python3', '-c', 'import tdb');
    my $holder = hold_table($d->{table}, 'lock_all', 2);
    print { $c->{s} } frame(350, 'syslog', dovecot_line('dave', '192.0.2.54'));
    is_deeply([response($c, 1)], [], 'table locked by another writer: no answer within 1 s');
    @r = response($c, 20);
    waitpid $holder, 0;
    is_deeply(\@r, [350, 'rsp', '200 OK'], '  answered once the table is free');
    ok(relayed($d, '192.0.2.54'), '  and in the table by then');
}

# More logins than the daemon queues (4096) while commits fail (a full
# disk: a tiny tmpfs in a private mount namespace): the one that does not
# fit is never answered, the connection is closed instead, so the sender
# sends it again; nothing is answered that is not in the table.
SKIP: {
    skip 'disk-full test needs root (mount namespace)', 6 if $> != 0;
    my $rport = free_port();
    my $df = Authsink::start_daemon_small_disk(listen => ["relp:127.0.0.1:$rport"],
        extra => "ttl = 1h\n");
    my ($small, @ns) = ($df->{small}, @{ $df->{ns} });
    my $in_table = sub { (run_cmd(@ns, build_dir() . '/authsink', '-t',
        $df->{table}, 'check', $_[0]))[0] == 0 };
    my $addr = sub { sprintf('2001:db8::%x', $_[0]) };
    my $send = sub {	# a fresh connection, the logins @_; the answered ones
        my $f = { s => IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $rport, Proto => 'tcp') || die("connect: $!"), buf => '' };
        print { $f->{s} } frame(1, 'open', 'relp_version=0');
        response($f);
        print { $f->{s} } join '', map { frame(1 + $_, 'syslog',
            dovecot_line("f$_", $addr->($_))) } @_;
        my @ok;
        while (my @r = response($f, 30)) {
            push @ok, $r[0] - 1 if $r[2] eq '200 OK';
        }
        return @ok;
    };
    system(@ns, 'sh', '-c', "dd if=/dev/zero of=$small/filler bs=4k 2>/dev/null; true");
    my @ok = $send->(1 .. 5000);
    cmp_ok(scalar @ok, '<', 5000, 'commits failing, queue full: the connection is closed, '
        . 'not every login answered (' . scalar(@ok) . ' were)');
    is(scalar(grep { !$in_table->($addr->($_)) } @ok), 0, '  every answered login is in the table');
    like(Authsink::slurp($df->{log}), qr/closing a RELP connection so its sender retries/,
        '  and the daemon says why');
    system(@ns, 'rm', '-f', "$small/filler");
    my %ok = map { $_ => 1 } @ok;
    my @again = grep { !$ok{$_} } 1 .. 5000;
    my @ok2 = $send->(@again);
    is(scalar @ok2, scalar @again, 'space freed: the sender resends the rest, all answered');
    is(scalar(grep { !$in_table->($addr->($_)) } 1 .. 5000), 0, '  and all 5000 logins are in the table');
    is(Authsink::stop_daemon($df), 0, '  clean exit');
}

print { $c->{s} } frame(400, 'starttls');
@r = response($c);
like($r[2] // '', qr/^500 /, 'an unknown command: 500');
print { $c->{s} } frame(401, 'syslog', dovecot_line('bob', '192.0.2.52'));
@r = response($c);
is_deeply(\@r, [401, 'rsp', '200 OK'], '  and the session goes on');

print { $c->{s} } frame(402, 'close');
@r = response($c);
is_deeply(\@r, [402, 'rsp', ''], 'close: answered with 402 rsp 0');
is_deeply([response($c, 5)], [], '  then the server hangs up');

# Not RELP: the connection is closed and counted.
my $g = relp_connect();
print { $g->{s} } "<13>Nov 25 05:19:40 mx dovecot: hello\n";
is_deeply([response($g, 5)], [], 'a syslog line on the RELP port: hung up');
is(counter($d, 'framing_errors'), 1, '  counted as a framing error');

# A message split into single bytes still arrives whole.
my $b = relp_connect();
for my $ch (split //, frame(1, 'open', 'relp_version=0') . frame(2, 'syslog',
        dovecot_line('carol', '192.0.2.53'))) {
    print { $b->{s} } $ch;
}
response($b);
@r = response($b);
is_deeply(\@r, [2, 'rsp', '200 OK'], 'a frame written byte by byte is acknowledged');
ok(relayed($d, '192.0.2.53'), '  and recorded');

# SIGTERM with sessions open: a clean exit (make asan: no use after free).
is(Authsink::stop_daemon($d), 0, 'SIGTERM with RELP sessions open: exit status 0');
unlike(Authsink::slurp($d->{log}), qr/AddressSanitizer|runtime error:/,
    '  and no sanitizer report');

done_testing;
