#!/usr/bin/perl
# Correlation: a server that logs the client address and the login in two
# messages ("connect from IP", then "user U logged in", same pid). The
# daemon and `authsink test` pair them through `action = remember` and
# `correlate = RULE`; the engine cases are in t/rules/engine.d/correlate.*.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX ();

my $dir = temp_dir();
mkdir "$dir/rules";
write_file("$dir/rules/twoline.rules", <<'RULES');
[two-connect]
program = twolined
match   = ^connect from ([0-9A-Fa-f.:]+)$
address = 1
action  = remember

[two-login]
program = twolined
match   = ^user ([a-z]+) logged in$
user    = 1
correlate = two-connect

# Paired by a connection id that both lines carry, whatever process logs
# them.
[id-connect]
program = frontd
match   = ^conn ([0-9a-f]+): client ([0-9A-Fa-f.:]+)$
address = 2
key     = 1
action  = remember

[id-login]
program = backd
match   = ^conn ([0-9a-f]+): user ([a-z]+) ok$
user    = 2
key     = 1
correlate = id-connect
RULES
my $d = start_daemon(dir => $dir, rules => "$dir/rules");
my @t = ('-t', $d->{table});

# RFC 5424 with PROCID, and RFC 3164 with tag[pid], both over UDP.
send_udp($d->{udp}, "<22>1 - mail twolined 4711 - - connect from 192.0.2.10");
send_udp($d->{udp}, "<22>1 - mail twolined 4712 - - connect from 192.0.2.20");
ok(wait_until(sub { counter($d, 'remembered') == 2 }, 10), 'two address lines remembered');
ok(!relayed($d, '192.0.2.10'), 'an address line alone relays nothing');
send_udp($d->{udp}, "<22>1 - mail twolined 4711 - - user alice logged in");
ok(wait_until(sub { relayed($d, '192.0.2.10') }, 10),
    'the login of the same process relays its address');
is(table_entry($d, '192.0.2.10')->{user}, 'alice', 'with the login line\'s user');
is(table_entry($d, '192.0.2.10')->{rule}, 'two-login', 'and the login rule');
ok(!relayed($d, '192.0.2.20'), 'the other process\'s address is not relayed');

# A login from a process without an address line: nothing, counted.
send_udp($d->{udp}, "<22>1 - mail twolined 9999 - - user mallory logged in");
ok(wait_until(sub { counter($d, 'unpaired') == 1 }, 10), 'an unpaired login is counted');
# (stamped now: the two lines' times must be within 10 minutes)
my $now3164 = POSIX::strftime('%b %e %H:%M:%S', localtime);
send_udp($d->{udp}, "<22>$now3164 mail twolined[4712]: user bob logged in");
ok(wait_until(sub { relayed($d, '192.0.2.20') }, 10),
    'RFC 3164 tag[pid] pairs with the RFC 5424 PROCID of the same process');

# Remembered lines survive a reload of the rules.
send_udp($d->{udp}, "<22>1 - mail twolined 5000 - - connect from 192.0.2.50");
ok(wait_until(sub { counter($d, 'remembered') == 3 }, 10), 'third address line remembered');
kill 'HUP', $d->{pid};
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /reloaded/ }, 10), 'reloaded');
send_udp($d->{udp}, "<22>1 - mail twolined 5000 - - user carol logged in");
ok(wait_until(sub { relayed($d, '192.0.2.50') }, 10), 'a pairing spans a reload');
is(counter($d, 'unpaired'), 1, 'no other unpaired login');

# A captured key: the address line and the login come from different
# programs and pids.
send_udp($d->{udp}, "<22>1 - mail frontd 31 - - conn 7a: client 192.0.2.60");
send_udp($d->{udp}, "<22>1 - mail frontd 31 - - conn 7b: client 192.0.2.61");
ok(wait_until(sub { counter($d, 'remembered') == 5 }, 10), 'keyed address lines remembered');
send_udp($d->{udp}, "<22>1 - mail backd 977 - - conn 7a: user fay ok");
ok(wait_until(sub { relayed($d, '192.0.2.60') }, 10), 'a login of another process pairs by its key');
is(table_entry($d, '192.0.2.60')->{user}, 'fay', '  with its user');
send_udp($d->{udp}, "<22>1 - other backd 977 - - conn 7b: user gus ok");
ok(wait_until(sub { counter($d, 'unpaired') == 2 }, 10), 'the same key from another host pairs with nothing');
ok(!relayed($d, '192.0.2.61'), '  and relays nothing');

# A flood of address lines that never get their login (hostile, or a
# server whose login lines this rule set misses): the store of pending
# halves is fixed-size, so memory does not grow, and pairing still works.
sub rss_kb { (Authsink::slurp("/proc/$d->{pid}/status") =~ /^VmRSS:\s+(\d+)/m)[0] }
my $rss0 = rss_kb();
my $flood = 100_000;
my $before = counter($d, 'remembered');
{
    my $batch = '';
    for my $i (1 .. $flood) {
        my $a = sprintf('198.51.%d.%d', ($i >> 8) % 100, $i & 255);
        $batch .= "<22>1 - mail twolined " . (100000 + $i) . " - - connect from $a\n";
    }
    send_tcp($d->{tcp}, $batch);
}
ok(wait_until(sub { counter($d, 'remembered') == $before + $flood }, 60),
    "$flood unmatched address lines from distinct processes taken");
my $rss1 = rss_kb();
cmp_ok($rss1 - $rss0, '<', 4096, "memory stays bounded (RSS $rss0 kB -> $rss1 kB)");
send_udp($d->{udp}, "<22>1 - mail twolined 7777 - - connect from 192.0.2.77");
ok(wait_until(sub { counter($d, 'remembered') == $before + $flood + 1 }, 10), 'a fresh address line after the flood');
send_udp($d->{udp}, "<22>1 - mail twolined 7777 - - user dave logged in");
ok(wait_until(sub { relayed($d, '192.0.2.77') }, 10), 'pairs with its login: the flood evicted old halves, not new ones');
send_udp($d->{udp}, "<22>1 - mail twolined 100001 - - user eve logged in");
ok(wait_until(sub { counter($d, 'unpaired') == 3 }, 10),
    'the oldest flooded half was dropped: its late login pairs with nothing');
ok(!relayed($d, '198.51.0.1'), '  and relays nothing');

# authsink test shows both halves.
my $log = write_file("$dir/two.log", <<'LOG');
Nov 25 10:00:00 mail twolined[100]: connect from 192.0.2.1
Nov 25 10:00:01 mail twolined[100]: user alice logged in
Nov 25 10:00:02 mail twolined[101]: user bob logged in
LOG
my ($rc, $out) = authsink('test', '-f', $log, "$dir/rules");
is($rc, 0, 'authsink test: exit 0');
like($out, qr/^1: match two-connect action=remember address=192\.0\.2\.1 remembered$/m,
    'authsink test: the address line is remembered');
like($out, qr/^2: match two-login action=allow user=alice address=192\.0\.2\.1 correlate=two-connect ok$/m,
    'authsink test: the login takes its address');
like($out, qr/^3: match two-login action=allow user=bob address=- correlate=two-connect ignored \(no address line from this process\)$/m,
    'authsink test: an unpaired login is ignored, with the reason');
like($out, qr/^-- 3 lines: 3 matched \(1 with an ignored address\)/m, 'authsink test: summary');

done_testing;
