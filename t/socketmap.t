#!/usr/bin/perl
# The socketmap protocol (Postfix socketmap_table(5), Sendmail K socket):
# the cases t/peer-postfix.t runs through a real Postfix, plus what a
# hostile or broken client can send. Every case runs against
# `authsink socketmap` on a pipe (spawn(8), inetd, systemd Accept=yes)
# and against `authsink serve socketmap:...` on a UNIX and a TCP socket.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep time);

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7', '--user', 'alice'],
    ['2001:db8::7'], ['198.51.100.1', '--ttl', '1']]);
my @t = ('-t', $d->{table});
my $port = free_port();
my $sock = "$dir/map.sock";
my $serve = start_serve($dir, @t, 'serve', "socketmap:unix:$sock",
    "socketmap:tcp:127.0.0.1:$port");
sleep 1.1;	# 198.51.100.1 has expired

my %kinds = (
    stdio => sub { stdio_conn(@t, 'socketmap') },
    unix => sub { unix_conn($sock) },
    tcp => sub { tcp_conn('127.0.0.1', $port) },
);

for my $kind (sort keys %kinds) {
    my $c = $kinds{$kind}->();
    my $ask = sub { $c->send(netstring($_[0])); $c->netstring };

    # The Postfix cases, many requests on one connection.
    is($ask->('relay 192.0.2.7'), 'OK OK', "$kind: live IPv4 address");
    is($ask->('relay 2001:db8::7'), 'OK OK', "$kind: live IPv6 address");
    is($ask->('relay 2001:DB8:0::7'), 'OK OK', "$kind: IPv6 in any spelling");
    is($ask->('relay ::ffff:192.0.2.7'), 'OK OK', "$kind: IPv4-mapped IPv6");
    is($ask->('relay IPv6:2001:db8::7'), 'OK OK', "$kind: Sendmail's IPv6:ADDR form");
    is($ask->('relay 192.0.2.8'), 'NOTFOUND ', "$kind: unknown address");
    is($ask->('relay 198.51.100.1'), 'NOTFOUND ', "$kind: expired entry");
    is($ask->('othermap 192.0.2.7'), 'OK OK', "$kind: any map name");
    # check_client_access also looks up names and parent networks
    is($ask->('relay unknown'), 'NOTFOUND ', "$kind: a host name is not found");
    is($ask->('relay 192.0.2'), 'NOTFOUND ', "$kind: a network prefix is not found");
    is($ask->('relay '), 'NOTFOUND ', "$kind: empty key");
    is($ask->('relay 192.0.2.7 '), 'NOTFOUND ', "$kind: key with a trailing space");

    # Well framed but not NAME KEY: PERM, and the connection stays usable.
    like($ask->('relay'), qr/^PERM /, "$kind: request without a key: PERM");
    like($ask->(''), qr/^PERM /, "$kind: empty request: PERM");
    is($ask->('relay 192.0.2.7'), 'OK OK', "$kind: still answering after PERM");

    # Split anywhere, and several requests in one write.
    my $req = netstring('relay 192.0.2.7') . netstring('relay 192.0.2.8');
    for my $i (0 .. length($req) - 1) {
        $c->send(substr($req, $i, 1));
        sleep 0.001 if $i % 7 == 0;
    }
    is($c->netstring, 'OK OK', "$kind: request sent byte by byte");
    is($c->netstring, 'NOTFOUND ', "$kind: second request in the same bytes");
    $c->finish;
}

# Replies come at once, not when the pipe closes (spawn(8) waits for them).
{
    my $c = stdio_conn(@t, 'socketmap');
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring(5), 'OK OK', 'stdio: reply before end of input');
    is($c->finish, 0, 'stdio: exit 0 when the client closes');
}

# --value
{
    my $c = stdio_conn(@t, 'socketmap', '--value', 'RELAY');
    $c->send(netstring('access 192.0.2.7'));
    is($c->netstring, 'OK RELAY', '--value sets the value of a hit');
    $c->send(netstring('access 192.0.2.8'));
    is($c->netstring, 'NOTFOUND ', '--value: a miss stays NOTFOUND');
    $c->finish;
}
my ($rc, $out, $err) = authsink(@t, 'socketmap', '--value', "a\nb");
is($rc, 2, '--value with a newline is refused');

# Broken framing: PERM, then the connection is closed; nothing crashes.
my @bad = (
    ['3:relay 192.0.2.7,', 'netstring length shorter than its text'],
    ['x:relay 1.2.3.4,', 'length not a number'],
    [':relay,', 'empty length'],
    ['015:relay 192.0.2.7,', 'length with a leading zero'],
    ['15relay 192.0.2.7,', 'missing colon'],
    ['15:relay 192.0.2.7;', 'missing comma'],
    ['10001:' . ('x' x 10001) . ',', 'longer than 10000 bytes'],
    ['99999999999999999999:', 'absurd length'],
    ["\n", 'a bare newline'],
    ["\0\0\0\0", 'NUL bytes'],
);
for my $kind (sort keys %kinds) {
    for my $b (@bad) {
        my ($bytes, $what) = @$b;
        my $c = $kinds{$kind}->();
        $c->send(netstring('relay 192.0.2.7'));
        $c->send($bytes);
        is($c->netstring, 'OK OK', "$kind: $what: the good request before it is answered");
        like($c->netstring, qr/^PERM /, "$kind: $what: PERM");
        ok($c->closed, "$kind: $what: connection closed");
        my $status = $c->finish;
        is($status, 0, "$kind: $what: exit 0") if $kind eq 'stdio';
    }
}

# A key as long as the limit allows is read, not a crash or a hang.
{
    my $c = unix_conn($sock);
    $c->send(netstring('relay ' . ('1' x 9994)));
    is($c->netstring, 'NOTFOUND ', 'a 10000-byte request is answered');
    $c->finish;
}

# A client that sends half a request and goes away costs nothing.
for my $kind (sort keys %kinds) {
    my $c = $kinds{$kind}->();
    $c->send('15:relay 192');
    $c->shutdown_write;
    ok($c->closed, "$kind: half a request, then EOF: closed without a reply");
    my $status = $c->finish;
    is($status, 0, "$kind: exit 0") if $kind eq 'stdio';
}

# Table unavailable: TEMP, never OK or NOTFOUND; back when it is back.
rename $d->{table}, "$d->{table}.away" or die;
for my $kind (sort keys %kinds) {
    my $c = $kinds{$kind}->();
    $c->send(netstring('relay 192.0.2.7'));
    like($c->netstring, qr/^TEMP /, "$kind: table missing: TEMP");
    $c->send(netstring('relay 192.0.2.8'));
    like($c->netstring, qr/^TEMP /, "$kind: table missing: TEMP for unknown keys too");
    rename "$d->{table}.away", $d->{table} or die;
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'OK OK', "$kind: table back: same connection answers again");
    rename $d->{table}, "$d->{table}.away" or die;
    $c->finish;
}
rename "$d->{table}.away", $d->{table} or die;

# Not a tdb file: TEMP as well (fail closed, not open).
{
    my $junk = write_file("$dir/junk.tdb", "this is not a tdb file\n" x 100);
    my $c = stdio_conn('-t', $junk, 'socketmap');
    $c->send(netstring('relay 192.0.2.7'));
    like($c->netstring, qr/^TEMP /, 'a file that is not a tdb: TEMP');
    $c->finish;
}

# A commit in progress (held open between prepare and commit by another
# writer): readers wait for it instead of failing or reading half of it,
# and fail temporarily only when it lasts far too long.
SKIP: {
    my $py = -x '/usr/bin/python3' && system('/usr/bin/python3', '-c', 'import tdb') == 0;
    Test::More::BAIL_OUT('python3-tdb is required in CI') if !$py && in_ci();
    skip 'python3-tdb not installed', 6 unless $py;
    my $hold = sub {
        my ($seconds) = @_;
        my $ready = "$dir/committing";
        unlink $ready;
        my $pid = fork // die;
        if ($pid == 0) {
            exec '/usr/bin/python3', '-c', <<'EOP', $d->{table}, $ready, $seconds or POSIX::_exit(127);
import os, sys, time, tdb
t = tdb.Tdb(sys.argv[1], 0, tdb.DEFAULT, os.O_RDWR)
t.transaction_start()
n = int(time.time() * 1000000)
t.store(b"203.0.113.99", b"expires=1 first=1 last=1 count=%d rule=held" % n)
t.transaction_prepare_commit()
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
t.transaction_commit()
EOP
        }
        wait_until(sub { -e $ready }, 10) or die 'no commit in progress';
        return $pid;
    };
    my $c = unix_conn($sock);
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'OK OK', 'serve has the table open');
    my $pid = $hold->(0.3);
    my $fresh = stdio_conn(@t, 'socketmap');
    $fresh->send(netstring('relay 192.0.2.7'));
    $c->send(netstring('relay 192.0.2.7'));
    is($fresh->netstring, 'OK OK', 'a commit in progress: a new reader waits, then answers');
    is($c->netstring, 'OK OK', 'a commit in progress: an open reader waits, then answers');
    waitpid $pid, 0;
    $fresh->finish;
    $pid = $hold->(3);
    my $t0 = time;
    $c->send(netstring('relay 192.0.2.7'));
    like($c->netstring, qr/^TEMP /, 'a commit that hangs: TEMP');
    my $waited = time - $t0;
    ok($waited >= 0.5 && $waited < 1.8, "  after waiting about a second ($waited s)");
    waitpid $pid, 0;
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'OK OK', 'the commit done: answering again');
    $c->finish;
}

# The table replaced by a new file (restore from backup): readers follow.
{
    my $c = unix_conn($sock);
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'OK OK', 'before the table is replaced');
    my $other = new_table(add => [['203.0.113.5']]);
    Authsink::stop_daemon($other);
    system('cp', $other->{table}, "$d->{table}.new") == 0 or die;
    rename "$d->{table}.new", $d->{table} or die;
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'NOTFOUND ', 'after: the old entry is gone');
    $c->send(netstring('relay 203.0.113.5'));
    is($c->netstring, 'OK OK', 'after: the new file is read');
    $c->finish;
}

like(Authsink::slurp("$dir/serve.log"), qr/malformed socketmap request/,
    'serve logs malformed requests');
is(stop_peer($serve), 0, 'serve exits 0 on SIGTERM');
ok(!-e $sock, 'serve removed its socket');

done_testing;
