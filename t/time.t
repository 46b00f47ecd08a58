#!/usr/bin/perl
# Time: expiry counts from the message's own timestamp, clamped to now,
# so a late message (a queue flushed after an outage, a replayed log)
# grants nothing once its ttl is over, and one from the future counts as
# now. trust-timestamps = no counts every login from its reception.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX qw(strftime);

my $ttl = 60;
my $dir = temp_dir();
my $d = start_daemon(dir => "$dir", extra => "ttl = ${ttl}s\n");
sub line5424 { my ($ts, $addr) = @_;
    "<38>1 $ts mx dovecot - - - " . dovecot_login('tim', $addr) }
sub iso { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }
sub expires { my $e = table_entry($_[0], $_[1]); $e ? $e->{expires} : undef }
sub settle {	# a marker sent last: what came before it is committed
    my ($d, $m) = @_;
    send_udp($d->{udp}, line5424('-', $m));
    ok(wait_until(sub { defined expires($d, $m) }), "  (marker $m committed)");
}

my $now = time;
send_udp($d->{udp}, line5424(iso($now - 30), '192.0.2.1'));
ok(wait_until(sub { defined expires($d, '192.0.2.1') }), 'a login 30 s old is recorded');
is(expires($d, '192.0.2.1'), $now - 30 + $ttl, '  expiring ttl after its own timestamp');

send_udp($d->{udp}, line5424(iso($now - $ttl - 60), '192.0.2.2'));
send_udp($d->{udp}, line5424(iso($now - 86400 * 3), '192.0.2.3'));
my $t0 = time;
send_udp($d->{udp}, line5424(iso($now + 7200), '192.0.2.4'));
send_udp($d->{udp}, line5424('-', '192.0.2.5'));
# RFC 3164: no year, no zone; local time, as the server wrote it.
send_udp($d->{udp}, '<38>' . strftime('%b %e %H:%M:%S', localtime($now - 20))
    . ' mx dovecot: ' . dovecot_login('tim', '192.0.2.6'));
send_udp($d->{udp}, '<38>' . strftime('%b %e %H:%M:%S', localtime($now - 600))
    . ' mx dovecot: ' . dovecot_login('tim', '192.0.2.7'));
settle($d, '192.0.2.99');
my $t1 = time;
is(expires($d, '192.0.2.2'), undef, 'a login older than its ttl grants nothing');
is(expires($d, '192.0.2.3'), undef, 'nor one days old (a replayed log)');
is((authsink('-t', $d->{table}, 'check', '192.0.2.2'))[0], 1, '  check says no');
my $e = expires($d, '192.0.2.4');
ok(defined $e && $e >= $t0 + $ttl && $e <= $t1 + $ttl,
    'a login from the future counts as now') or diag("expires=" . ($e // 'none') . " t0=$t0 t1=$t1");
$e = expires($d, '192.0.2.5');
ok(defined $e && $e >= $t0 + $ttl && $e <= $t1 + $ttl, 'a login without a timestamp counts as now');
is(expires($d, '192.0.2.6'), $now - 20 + $ttl, 'RFC 3164: expiry from its local timestamp');
is(expires($d, '192.0.2.7'), undef, 'RFC 3164: a late one grants nothing');
is(counter($d, 'stale'), 3, 'the late logins are counted as stale');

# trust-timestamps = no: reception time for every login.
my $dir2 = temp_dir();
my $d2 = start_daemon(dir => $dir2, extra => "ttl = ${ttl}s\ntrust-timestamps = no\n");
$t0 = time;
send_udp($d2->{udp}, line5424(iso($now - $ttl - 60), '192.0.2.2'));
send_udp($d2->{udp}, line5424(iso($now - 30), '192.0.2.1'));
settle($d2, '192.0.2.99');
$t1 = time;
$e = expires($d2, '192.0.2.2');
ok(defined $e && $e >= $t0 + $ttl && $e <= $t1 + $ttl,
    'trust-timestamps = no: a late login counts from its reception');
$e = expires($d2, '192.0.2.1');
ok(defined $e && $e >= $t0 + $ttl, '  and so does a recent one');
is(counter($d2, 'stale'), 0, '  nothing is stale');

done_testing;
