#!/usr/bin/perl
# authsinkd end to end: real logger(1) over every listener kind, tdbtool
# and authsink reading the live table, expiry, restart, signals, kill -9.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $logger = need_program('logger', 'bsdutils');
my $tdbtool = need_program('tdbtool', 'tdb-tools');

my $d = start_daemon(extra => "ttl = 30m\n");
my @t = ('-t', $d->{table});

sub allowed { relayed($d, $_[0]) }
sub visible { my $a = shift; wait_until(sub { allowed($a) }, 10) }

# --- every listener kind, with the real logger ---
system($logger, '--server', '127.0.0.1', '--port', $d->{udp}, '--udp',
    '-t', 'dovecot', dovecot_login('alice', '192.0.2.10')) == 0 or die;
ok(visible('192.0.2.10'), 'logger RFC 5424 over UDP reaches the table');

system($logger, '--server', '127.0.0.1', '--port', $d->{udp}, '--udp',
    '--rfc3164', '-t', 'dovecot', dovecot_login('amy', '192.0.2.15')) == 0 or die;
ok(visible('192.0.2.15'), 'logger RFC 3164 over UDP reaches the table');

system($logger, '--server', '127.0.0.1', '--port', $d->{tcp}, '--tcp',
    '--octet-count', '-t', 'dovecot', dovecot_login('bob', '192.0.2.11', 'pop3')) == 0 or die;
ok(visible('192.0.2.11'), 'logger over TCP with octet counting');

system($logger, '--server', '127.0.0.1', '--port', $d->{tcp}, '--tcp',
    '-t', 'dovecot', dovecot_login('carol', '192.0.2.12')) == 0 or die;
ok(visible('192.0.2.12'), 'logger over TCP, LF framed');

system($logger, '-u', $d->{sock}, '--socket-errors=on', '-t', 'dovecot',
    dovecot_login('dave', '192.0.2.13')) == 0 or die;
ok(visible('192.0.2.13'), 'logger to the UNIX datagram socket');

# A UNIX stream socket, octet-counted and LF frames in one connection.
{
    use IO::Socket::UNIX;
    my $s = IO::Socket::UNIX->new(Type => Socket::SOCK_STREAM(), Peer => $d->{stream})
        or die "connect $d->{stream}: $!";
    my $m1 = "<38>1 2026-01-01T00:00:00Z mx dovecot - - - " . dovecot_login('erin', '192.0.2.14');
    my $m2 = "<38>" . dovecot_login('frank', '192.0.2.16');
    my $now3164 = POSIX::strftime('%b %e %H:%M:%S', localtime);
    $m2 =~ s/^<38>/<38>$now3164 mx dovecot: /;
    print $s length($m1) . " $m1$m2\n";
    close $s;
}
ok(visible('192.0.2.16'), 'UNIX stream socket, LF frame after a counted one');
ok(!allowed('192.0.2.14'), 'a login from long ago (older than ttl) grants nothing');
unlike(`$tdbtool $d->{table} keys`, qr/192\.0\.2\.14\b/, '  and is never written to the table');

# --- what tdbtool and the table show ---
my $show = `$tdbtool $d->{table} show 192.0.2.10 2>&1`;
like($show, qr/expires=/, 'tdbtool reads the entry while the daemon runs');
my ($rc, $json) = authsink(@t, 'list', '--json');
is($rc, 0, 'authsink list --json');
like($json, qr/"address":"192.0.2.10","user":"alice","rule":"dovecot[^"]*"/,
    'entry records user and rule');
like(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i, 'tdbtool check passes');

# --- IPv6 and IPv4-mapped ---
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('v6', '2001:DB8:0:0::7'));
ok(visible('2001:db8::7'), 'IPv6 address, stored canonical');
my ($rc6, $out6) = authsink(@t, 'list');
like($out6, qr/^2001:db8::7\s/m, 'IPv6 key is RFC 5952 text');
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('m', '::ffff:198.51.100.9'));
ok(visible('198.51.100.9'), 'IPv4-mapped IPv6 stored as IPv4');
ok(allowed('::ffff:198.51.100.9'), 'check folds IPv4-mapped queries too');

# --- near misses change nothing ---
send_udp($d->{udp}, "<38>1 - mx dovecot - - - imap-login: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=192.0.2.99, lip=127.0.0.1");
send_udp($d->{udp}, "<38>1 - mx evil - - - " . dovecot_login('x', '192.0.2.98'));
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('x', '0.0.0.0'));
send_udp($d->{udp}, "<999>garbage");
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('last', '192.0.2.97'));
ok(visible('192.0.2.97'), 'a later login still arrives');
ok(!allowed('192.0.2.99'), 'failed login adds nothing');
ok(!allowed('192.0.2.98'), 'wrong program adds nothing');
ok(!allowed('0.0.0.0'), 'unspecified address is never relayed');

# --- the helper's contract ---
is((authsink(@t, 'check', '203.0.113.1'))[0], 1, 'unknown address: exit 1');
my ($rcb, undef, $errb) = authsink(@t, 'check', 'not-an-ip');
is($rcb, 2, 'bad address: exit 2');
like($errb, qr/not an IPv4 or IPv6 address/, 'bad address: clear message');
is((authsink('-t', "$d->{dir}/nope.tdb", 'check', '192.0.2.10'))[0], 2,
    'missing table: exit 2, not "no"');

# --- SIGUSR1 dump ---
kill 'USR1', $d->{pid};
ok(wait_until(sub { -s "$d->{dir}/authsinkd.dump" }), 'SIGUSR1 writes the dump file');
my $dump = Authsink::slurp("$d->{dir}/authsinkd.dump");
like($dump, qr/^malformed [1-9]/m, 'dump counts malformed messages');
like($dump, qr/^rule dovecot\S* [1-9]/m, 'dump counts per rule');

# --- SIGHUP with a broken rule set keeps the old one ---
my $rules = "$d->{dir}/rules";
mkdir $rules;
system('cp', glob(src_dir() . '/rules.d/*.rules'), $rules) == 0 or die;
(my $conf = Authsink::slurp($d->{conf})) =~ s/^rules-dir = .*$/rules-dir = $rules/m;
open my $c, '>', $d->{conf} or die; print $c $conf; close $c;
open my $bad, '>', "$rules/zz-broken.rules" or die;
print $bad "[broken]\nprogram = x\nmatch = (unclosed\naddress = 1\n";
close $bad;
kill 'HUP', $d->{pid};
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /reload failed.*zz-broken\.rules:3/ }),
    'broken rule file on SIGHUP: error names file:line');
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('hup', '192.0.2.50'));
ok(visible('192.0.2.50'), 'old rules keep working after a failed reload');
is((run_cmd(build_dir() . '/authsinkd', '-t', '-c', $d->{conf}))[0], 1,
    'authsinkd -t rejects the broken set');
unlink "$rules/zz-broken.rules";
is((run_cmd(build_dir() . '/authsinkd', '-t', '-c', $d->{conf}))[0], 0,
    'authsinkd -t accepts the fixed set');

# --- SIGALRM sweeps expired entries ---
authsink(@t, 'add', '192.0.2.200', '--ttl', '3');
ok(allowed('192.0.2.200'), 'authsink add allows');
sleep 3.2;
ok(!allowed('192.0.2.200'), 'expired entry: check answers 1');
kill 'ALRM', $d->{pid};
ok(wait_until(sub { `$tdbtool $d->{table} keys` !~ /192\.0\.2\.200/ }),
    'SIGALRM sweeps expired entries');

# --- SIGTERM: clean exit, pid file and sockets removed; restart keeps entries ---
my $status = Authsink::stop_daemon($d, 'TERM');
is($status, 0, 'SIGTERM: exit 0');
ok(!-e $d->{pidfile}, 'SIGTERM removes the pid file');
ok(!-e $d->{sock} && !-e $d->{stream}, 'SIGTERM removes the socket files');
ok(allowed('192.0.2.10'), 'stopped daemon: live entry still answers yes');
Authsink::restart_daemon($d);
ok(allowed('192.0.2.11'), 'restart keeps live entries');

# --- kill -9 during a stream of logins leaves a sane table ---
{
    my $pid = fork // die;
    if ($pid == 0) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $d->{udp},
            Proto => 'udp') or POSIX::_exit(1);
        for my $i (1 .. 200000) {
            my $ip = sprintf('10.%d.%d.%d', ($i >> 16) & 255, ($i >> 8) & 255, $i & 255);
            $s->send("<38>1 - mx dovecot - - - " . dovecot_login("u$i", $ip));
        }
        POSIX::_exit(0);
    }
    wait_until(sub { `$tdbtool $d->{table} keys 2>/dev/null` =~ /^key \d+ bytes: 10\./m }, 10);
    kill 'KILL', $d->{pid};
    waitpid $d->{pid}, 0;
    delete $d->{pid};
    kill 'KILL', $pid; waitpid $pid, 0;
    like(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i,
        'kill -9 mid-stream: tdbtool check passes');
    ok(allowed('192.0.2.11'), 'kill -9: earlier committed entries survive');
    Authsink::restart_daemon($d);
    ok(allowed('192.0.2.10'), 'daemon restarts on the killed table');
}

done_testing;
