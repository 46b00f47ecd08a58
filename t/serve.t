#!/usr/bin/perl
# authsink serve: the line protocol (Exim ${readsocket}), several
# listeners in one process, its command line, socket files, signals.
# (policy and socketmap on serve: t/policy.t, t/socketmap.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep);

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7'], ['2001:db8::7']]);
my @t = ('-t', $d->{table});
my ($p1, $p2) = (free_port(), free_port());
my $line = "$dir/line.sock";
my $map = "$dir/map.sock";
my $serve = start_serve($dir, @t, 'serve', '--socket-mode', '0660',
    "line:unix:$line", "line:tcp:127.0.0.1:$p1", "socketmap:unix:$map",
    "policy:tcp:127.0.0.1:$p2");

is((stat $line)[2] & 07777, 0660, '--socket-mode applies to UNIX sockets');

for my $kind ('unix', 'tcp') {
    my $c = $kind eq 'unix' ? unix_conn($line) : tcp_conn('127.0.0.1', $p1);
    my $ask = sub { $c->send("$_[0]\n"); $c->line };
    is($ask->('192.0.2.7'), 'yes', "$kind line: live address");
    is($ask->('2001:DB8::7'), 'yes', "$kind line: IPv6, any spelling");
    is($ask->('[2001:db8::7]'), 'yes', "$kind line: IPv6 in brackets");
    is($ask->(' 192.0.2.7 '), 'yes', "$kind line: surrounding blanks");
    is($ask->("192.0.2.7\r"), 'yes', "$kind line: CRLF");
    is($ask->('192.0.2.8'), 'no', "$kind line: unknown address");
    is($ask->('not an address'), 'no', "$kind line: not an address");
    is($ask->(''), 'no', "$kind line: empty line");
    is($ask->('1' x 600), 'error line too long', "$kind line: overlong line");
    is($ask->('192.0.2.7'), 'yes', "$kind line: still answering");
    $c->finish;
}

# Exim's ${readsocket} sends the address without a newline and shuts
# down its side: that is a request, answered before the close.
{
    my $c = unix_conn($line);
    $c->send('192.0.2.7');
    $c->shutdown_write;
    is($c->line, 'yes', 'readsocket style: answer to an unterminated last line');
    ok($c->closed, 'readsocket style: then EOF');
    $c->finish;
}

# One process answers all listeners at once, each with its protocol.
{
    my @c = (unix_conn($line), unix_conn($map), tcp_conn('127.0.0.1', $p2));
    $c[0]->send("192.0.2.7\n");
    $c[1]->send(netstring('m 192.0.2.7'));
    $c[2]->send(policy_request(client_address => '192.0.2.7'));
    is($c[0]->line, 'yes', 'line listener');
    is($c[1]->netstring, 'OK OK', 'socketmap listener');
    is($c[2]->policy, 'action=OK', 'policy listener');
    $_->finish for @c;
}

# Many clients at once: no fork per query, all answered.
{
    my @c = map { unix_conn($line) } 1 .. 50;
    $_->send("192.0.2.7\n") for @c;
    is(scalar(grep { ($_->line // '') eq 'yes' } @c), 50, '50 concurrent clients answered');
    $_->finish for @c;
}

# SIGHUP reopens the table; serving goes on.
kill 'HUP', $serve->{pid};
sleep 0.2;
{
    my $c = unix_conn($line);
    $c->send("192.0.2.7\n");
    is($c->line, 'yes', 'after SIGHUP');
    $c->finish;
}
like(Authsink::slurp("$dir/serve.log"), qr/SIGHUP: reopening/, 'SIGHUP is logged');

# Table unavailable: "error", never "yes".
rename $d->{table}, "$d->{table}.away" or die;
{
    my $c = unix_conn($line);
    $c->send("192.0.2.7\n");
    is($c->line, 'error relay table unavailable', 'line: table missing: error');
    rename "$d->{table}.away", $d->{table} or die;
    $c->send("192.0.2.7\n");
    is($c->line, 'yes', 'line: table back');
    $c->finish;
}

# A second serve on the same socket is refused (the first one is alive).
{
    my ($rc, $out, $err) = authsink(@t, 'serve', "line:unix:$line");
    is($rc, 2, 'socket in use: exit 2');
    like($err, qr/in use/, 'socket in use: says so');
    ok(-S $line, 'socket in use: left alone');
}

is(stop_peer($serve), 0, 'SIGTERM: exit 0');
ok(!-e $line && !-e $map, 'SIGTERM: socket files removed');

# A stale socket file (a crash) is replaced; any other file is not.
{
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $line, Listen => 1) or die;
    close $s;	# the file stays, nobody listens
    ok(-S $line, 'a stale socket file exists');
    my $again = start_serve($dir, @t, 'serve', "line:unix:$line");
    my $c = unix_conn($line);
    $c->send("192.0.2.7\n");
    is($c->line, 'yes', 'stale socket replaced, serving');
    $c->finish;
    stop_peer($again);
    write_file("$dir/plain", "x");
    my ($rc, undef, $err) = authsink(@t, 'serve', "line:unix:$dir/plain");
    is($rc, 2, 'a regular file in the way: exit 2');
    like($err, qr/not a socket/, 'a regular file in the way: says so');
    is(Authsink::slurp("$dir/plain"), 'x', 'a regular file in the way: untouched');
}

# Command line errors: exit 2, one clear line.
for my $case (
    [[], 'no listener'],
    [['line:udp:127.0.0.1:1'], 'udp is not a stream'],
    [['bogus:unix:/tmp/x'], 'unknown protocol'],
    [['line:unix:relative'], 'relative socket path'],
    [['line:tcp:localhost:25'], 'host name instead of an address'],
    [['line:tcp:127.0.0.1:99999'], 'bad port'],
    [['--socket-mode', '999', "line:unix:$dir/x"], 'bad mode'],
    [['--max-clients', '0', "line:unix:$dir/x"], 'bad max-clients'],
    [['--action', '', "line:unix:$dir/x"], 'empty action'],
) {
    my ($args, $what) = @$case;
    my ($rc, $out, $err) = authsink(@t, 'serve', @$args);
    is($rc, 2, "serve: $what: exit 2");
    like($err, qr/^authsink: .+\n\z/, "serve: $what: one error line");
}
{
    # The port is taken: exit 2, and the other listener's socket is gone.
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 1, Proto => 'tcp') or die;
    my ($rc, $out, $err) = authsink(@t, 'serve', "line:unix:$dir/y.sock",
        'line:tcp:127.0.0.1:' . $busy->sockport);
    is($rc, 2, 'port in use: exit 2');
    ok(!-e "$dir/y.sock", 'port in use: no socket file left behind');
}

done_testing;
