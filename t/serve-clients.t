#!/usr/bin/perl
# authsink serve is one process for all clients: a client that stalls in
# the middle of a request, one that floods garbage, one that sends
# requests and never reads the replies, one that sends a line that never
# ends must not keep the others from their answers. Each protocol gets
# all of them at once (t/lib/serve-flood.pl, run as separate processes)
# while a well-behaved client asks on a persistent connection and on new
# ones; the answers are checked, not their speed. Then --max-clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep);
use List::Util ();

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7'], ['2001:db8::7']]);
my @t = ('-t', $d->{table});
my $port = free_port();
my %ep = (
    'line unix' => "unix:$dir/line.sock",
    'line tcp' => "tcp:127.0.0.1:$port",
    'socketmap unix' => "unix:$dir/map.sock",
    'policy unix' => "unix:$dir/policy.sock",
);
my $serve = start_serve($dir, @t, 'serve', map { (split / /)[0] . ":$ep{$_}" } sort keys %ep);

sub conn {
    my ($ep) = @_;
    return $ep =~ /^unix:(.*)/ ? unix_conn($1) : $ep =~ /^tcp:(.*):(\d+)$/ ? tcp_conn($1, $2) : die;
}

# Per protocol: a request for ADDR, reading its reply, the replies for a
# live and an unknown address, and half a request.
my %P = (
    line => { req => sub { "$_[0]\n" }, read => sub { $_[0]->line },
        yes => 'yes', no => 'no', half => '192.0.' },
    socketmap => { req => sub { netstring("relay $_[0]") }, read => sub { $_[0]->netstring },
        yes => 'OK OK', no => 'NOTFOUND ', half => '15:relay 192' },
    policy => { req => sub { policy_request(client_address => $_[0]) },
        read => sub { $_[0]->policy }, yes => 'action=OK', no => 'action=DUNNO',
        half => "request=smtpd_access_policy\nclient_addr" },
);
my $flood = "$FindBin::Bin/lib/serve-flood.pl";

for my $name (sort keys %ep) {
    my ($kind) = split / /, $name;
    my $p = $P{$kind};
    my $ep = $ep{$name};

    # 20 clients stalled in the middle of a request.
    my @stalled = map { conn($ep) } 1 .. 20;
    $_->send($p->{half}) for @stalled;

    # The flooders, each a process of its own.
    my @modes = ('garbage', 'unread', $kind eq 'socketmap' ? () : 'longline');
    my %fl;
    for my $mode (@modes) {
        my $log = "$dir/flood-$kind-$mode-" . ($ep =~ /^tcp/ ? 'tcp' : 'unix') . '.log';
        unlink $log;
        $fl{$mode} = start_peer(name => "flood $name $mode", log => $log,
            argv => [$^X, $flood, $kind, $mode, $ep],
            ready => sub { Authsink::slurp($log) =~ /^started$/m });
        $fl{$mode}{logfile} = $log;
    }

    # Meanwhile, a good client: every answer right.
    my $c = conn($ep);
    my ($right, $n) = (0, 0);
    my @wrong;
    for my $i (1 .. 30) {
        for ([ '192.0.2.7', 'yes' ], [ '192.0.2.8', 'no' ], [ '2001:db8::7', 'yes' ]) {
            my ($addr, $want) = @$_;
            $c->send($p->{req}->($addr));
            my $got = $p->{read}->($c, 30) // 'no reply';
            $n++;
            if ($got eq $p->{$want}) { $right++ } elsif (@wrong < 5) { push @wrong, "$addr: $got" }
        }
    }
    is($right, $n, "$name: a persistent client gets $n right answers during the flood")
        or diag(join "\n", @wrong);
    $c->finish;
    my $fresh = 0;
    for my $i (1 .. 10) {
        my $c = conn($ep);
        $c->send($p->{req}->('192.0.2.7'));
        $fresh++ if ($p->{read}->($c, 30) // '') eq $p->{yes};
        $c->finish;
    }
    is($fresh, 10, "$name: 10 new connections answered during the flood");

    # Who serve closed: the clients that do not read (their replies pile
    # up) and, for socketmap, each broken netstring.
    for my $mode (grep { $_ ne 'longline' } @modes) {
        ok(wait_until(sub { Authsink::slurp($fl{$mode}{logfile}) =~ /^closed by serve/m }, 60),
            "$name: $mode flooder: serve closed its connection");
    }
    stop_peer($fl{$_}) for @modes;
    if ($fl{longline}) {
        my $log = Authsink::slurp($fl{longline}{logfile});
        my ($final) = $log =~ /^final: (.*)$/m;
        my ($sent) = $log =~ /^sent (\d+)$/m;
        cmp_ok($sent // 0, '>=', 1 << 20, "$name: longline flooder sent a line of "
            . int(($sent // 0) / 1048576) . ' MiB');
        my $want = $kind eq 'line' ? 'error line too long|yes|'
            : 'action=DEFER_IF_REJECT authsink: malformed policy request '
              . '(attribute line too long)||action=OK||';
        is($final, $want, "$name: the endless line is answered with an error "
            . 'when it ends, then the next request normally');
    }

    # The stalled clients finish their requests: each gets its answer.
    my $ok = 0;
    for my $s (@stalled) {
        my $rest = substr($p->{req}->('192.0.2.7'), length $p->{half});
        $s->send($rest);
        $ok++ if ($p->{read}->($s, 30) // '') eq $p->{yes};
        $s->finish;
    }
    is($ok, 20, "$name: the 20 stalled clients complete their requests and get answers");
    ok(kill(0, $serve->{pid}), "$name: serve still running");
}

# Input never drives allocation: after all the floods serve is small.
my ($rss) = Authsink::slurp("/proc/$serve->{pid}/status") =~ /^VmRSS:\s+(\d+)/m;
SKIP: {
    skip "built with ASan (make asan): its quarantine holds freed memory (RSS $rss KiB)", 1
        if Authsink::sanitized();
    cmp_ok($rss, '<', 64 * 1024, "serve's resident size after the floods: $rss KiB");
}
like(Authsink::slurp("$dir/serve.log"), qr/does not read its replies, closing/,
    'serve logs the clients it drops');
is(stop_peer($serve), 0, 'serve exits 0 on SIGTERM');

# --max-clients: connections beyond it are closed at once; the others
# are served, and a freed place is taken again.
{
    my $sock = "$dir/few.sock";
    my $few = start_serve($dir, @t, 'serve', '--max-clients', '3', "line:unix:$sock");
    my @c = map { unix_conn($sock) } 1 .. 3;
    $_->send('192.0.') for @c;
    my $extra = unix_conn($sock);
    ok($extra->closed, '--max-clients 3: a fourth connection is closed');
    $extra->finish;
    $c[0]->send("2.7\n");
    is($c[0]->line, 'yes', '--max-clients 3: the first three are served');
    $c[0]->finish;
    my $again;
    ok(wait_until(sub {
            my $n = unix_conn($sock);
            $n->send("192.0.2.7\n");
            my $r = $n->line(2);
            $n->finish;
            ($r // '') eq 'yes' }, 20),
        '--max-clients 3: a place freed is taken by a new client');
    like(Authsink::slurp("$dir/serve.log"), qr/more than 3 clients, refusing new ones/,
        '--max-clients: logged');
    $_->finish for @c[1, 2];
    is(stop_peer($few), 0, '--max-clients: serve exits 0');
}

# A table that is not a tdb file (a bad restore) or a commit that never
# ends makes each lookup wait up to a second for it. Once it has failed,
# serve answers at once with a temporary failure instead of holding every
# client a second per query: 30 queries answered within 15 s in all.
{
    my $junk = write_file("$dir/junk.tdb", "this is not a tdb file\n" x 100);
    my $sock = "$dir/junk.sock";
    my $j = start_serve($dir, '-t', $junk, 'serve', "socketmap:unix:$sock");
    my @c = map { unix_conn($sock) } 1 .. 3;
    my $end = Time::HiRes::time() + 15;
    my $temp = 0;
    for my $i (1 .. 10) {
        $_->send(netstring('relay 192.0.2.7')) for @c;
        for (@c) {
            my $r = $_->netstring(List::Util::max(0.1, $end - Time::HiRes::time())) // '';
            $temp++ if $r =~ /^TEMP /;
        }
    }
    is($temp, 30, 'table not a tdb: 30 queries from 3 clients answered TEMP, '
        . 'not one second each');
    $_->finish for @c;
    # and when the file is a table again, the same serve answers from it
    system('cp', $d->{table}, "$junk.new") == 0 or die;
    rename "$junk.new", $junk or die;
    my $c = unix_conn($sock);
    $c->send(netstring('relay 192.0.2.7'));
    is($c->netstring, 'OK OK', 'table not a tdb, then replaced by a table: answered from it');
    $c->finish;
    stop_peer($j);
}

# Malformed floods are logged, but not line by line.
cmp_ok(-s "$dir/serve.log", '<', 1 << 20, 'serve.log stays small after the floods ('
    . (-s "$dir/serve.log") . ' bytes)');
like(Authsink::slurp("$dir/serve.log"), qr/more warnings about clients not logged/,
    '  it counts what it left out');

done_testing;
