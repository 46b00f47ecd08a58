#!/usr/bin/perl
# Sessions: a login with a session key keeps its address allowed while
# the session is open (up to max-session); its ttl counts from the close.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX qw(strftime);

my $dir = temp_dir();
mkdir "$dir/rules";
open my $r, '>', "$dir/rules/sessions.rules" or die;
print $r <<'RULES';
# A server that logs "open S from IP as U" and "close S from IP".
[sess-open]
program = testd
match   = ^open ([a-z0-9]+) from ([0-9.]+) as ([a-z]+)$
session = 1
address = 2
user    = 3

[sess-close]
program = testd
match   = ^close ([a-z0-9]+) from ([0-9.]+)$
session = 1
address = 2
action  = logout

# Keyed sessions: the logout names only the key.
[key-open]
program = keyd
match   = ^login ([a-z0-9]+) from ([0-9.]+)$
session = 1
address = 2

[key-close]
program = keyd
match   = ^logout ([a-z0-9]+)$
session = 1
action  = logout

# One process, one session: the pid is the key.
[pid-open]
program = pidd
match   = ^in from ([0-9.]+)$
address = 1
session = pid

[pid-close]
program = pidd
match   = ^out$
session = pid
action  = logout

[revoke]
program = testd
match   = ^revoke ([0-9.]+)$
address = 1
action  = revoke
RULES
close $r;
my $d = start_daemon(dir => $dir, rules => "$dir/rules",
    extra => "ttl = 60\nmax-session = 1h\n");
my @t = ('-t', $d->{table});

sub at { my ($t, $msg) = @_;
    send_udp($d->{udp}, '<38>1 ' . strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t) . " mx testd - - - $msg") }
sub expires { my ($rc, $json) = authsink(@t, 'list', '--json');
    my ($e) = $json =~ /"address":"\Q$_[0]\E"[^}]*"expires":(\d+)/; $e }

my $now = time;
at($now - 600, 'open s1 from 192.0.2.1 as ann');
at($now - 590, 'open s2 from 192.0.2.1 as ann');
ok(wait_until(sub { defined expires('192.0.2.1') }), 'session login recorded');
is(expires('192.0.2.1'), $now - 590 + 3600,
    'an open session keeps the address for max-session, not ttl');
at($now - 300, 'close s1 from 192.0.2.1');
at($now - 299, 'open s9 from 192.0.2.99 as zed');   # marker: the close is committed
ok(wait_until(sub { defined expires('192.0.2.99') }), 'marker arrived');
is(expires('192.0.2.1'), $now - 590 + 3600, 'one of two sessions closed: still allowed');
at($now - 120, 'close s2 from 192.0.2.1');
at($now - 119, 'close s9 from 192.0.2.99');
ok(wait_until(sub { (authsink(@t, 'check', '192.0.2.99'))[0] == 1 }),
    'last session closed longer than ttl ago: not allowed');
is(expires('192.0.2.1'), undef, '  and listed as expired');
is((authsink(@t, 'check', '192.0.2.1'))[0], 1, 'check answers 1');

at($now - 10, 'open s3 from 192.0.2.3 as bob');
at($now - 5, 'close s3 from 192.0.2.3');
ok(wait_until(sub { (expires('192.0.2.3') // 0) == $now - 5 + 60 }),
    'ttl counts from the close');
at($now, 'close s4 from 192.0.2.4');
at($now, 'revoke 192.0.2.3');
ok(wait_until(sub { !defined expires('192.0.2.3') }), 'revoke removes the address');
is((authsink(@t, 'check', '192.0.2.4'))[0], 1, 'a logout never grants');

# --- keyed sessions: a logout line that names no address ---
sub send5424 { my ($t, $app, $pid, $msg) = @_;
    send_udp($d->{udp}, '<38>1 ' . strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t) . " mx $app $pid - - $msg") }
sub entry { table_entry($d, $_[0]) }
sub open_count { my $e = entry($_[0]); $e ? $e->{open} : undef }
sub session_keys { my ($rc, $out) = run_cmd('tdbtool', $d->{table}, 'keys');
    sort $out =~ /^key \d+ bytes: (!session .*)$/mg }
my $marker = 0;
sub settle {	# a marker login, so what was sent before it is committed
    my $m = '198.51.100.' . (++$marker);
    send5424(time, 'pidd', '-', "in from $m");	# no pid: no session
    ok(wait_until(sub { defined entry($m) }), "  (marker $m committed)");
}
$now = time;
send5424($now - 100, 'keyd', 7, 'login k1 from 192.0.2.11');
send5424($now - 99, 'keyd', 8, 'login k2 from 192.0.2.11');
ok(wait_until(sub { (open_count('192.0.2.11') // 0) == 2 }), 'two keyed sessions open');
is_deeply([session_keys()], ['!session mx <k1>', '!session mx <k2>'],
    'each has a session record in the table');
send5424($now - 90, 'keyd', 7, 'logout k1');
send5424($now - 89, 'keyd', 7, 'logout k1');	# a duplicate
send5424($now - 88, 'keyd', 9, 'logout k99');	# never opened here
settle();
is(open_count('192.0.2.11'), 1, 'a logout by key closes its session once; unknown keys close nothing');
is_deeply([session_keys()], ['!session mx <k2>'], 'the closed session\'s record is gone');
send5424($now - 30, 'keyd', 8, 'logout k2');
ok(wait_until(sub { (open_count('192.0.2.11') // 1) == 0 }), 'the last keyed session closed');
is(entry('192.0.2.11')->{expires}, $now - 30 + 60, 'ttl counts from that logout');
is_deeply([session_keys()], [], 'no session record left');

# --- pid sessions ---
send5424($now - 50, 'pidd', 4242, 'in from 192.0.2.21');
ok(wait_until(sub { (open_count('192.0.2.21') // 0) == 1 }), 'a pid session opens');
is_deeply([session_keys()], ['!session mx pidd[4242]'], 'keyed by program and pid');
# The same pid logs in another address: its first session is over (the
# logout was lost, the pid reused).
send5424($now - 40, 'pidd', 4242, 'in from 192.0.2.22');
ok(wait_until(sub { (open_count('192.0.2.22') // 0) == 1 }), 'a reused pid opens a session for its new address');
is(open_count('192.0.2.21'), 0, '  and closes the one it held');
is(entry('192.0.2.21')->{expires}, $now - 40 + 60, '  whose ttl counts from then');
send5424($now - 20, 'pidd', 4242, 'out');
ok(wait_until(sub { (open_count('192.0.2.22') // 1) == 0 }), 'the process\'s logout closes its session');
send5424($now - 10, 'pidd', '-', 'in from 192.0.2.23');
ok(wait_until(sub { defined entry('192.0.2.23') }), 'a line without a pid...');
is(entry('192.0.2.23')->{open}, 0, '  opens no session');
is(entry('192.0.2.23')->{expires}, $now - 10 + 60, '  and counts as a plain login');

# --- sessions survive a restart of the daemon ---
send5424($now - 5, 'keyd', 11, 'login k5 from 192.0.2.31');
ok(wait_until(sub { (open_count('192.0.2.31') // 0) == 1 }), 'a session opens');
Authsink::stop_daemon($d);
Authsink::restart_daemon($d);
send5424(time, 'keyd', 11, 'logout k5');
ok(wait_until(sub { (open_count('192.0.2.31') // 1) == 0 }), 'the daemon restarted: its logout still closes it');

# --- a session whose logout never comes lapses at max-session, and its
# record is swept ---
$now = time;
send5424($now - 3600 + 4, 'keyd', 12, 'login k6 from 192.0.2.41');
ok(wait_until(sub { (open_count('192.0.2.41') // 0) == 1 }), 'a session opened almost max-session ago');
ok(grep({ $_ eq '!session mx <k6>' } session_keys()), '  has its record');
sleep 5;
kill 'ALRM', $d->{pid};
ok(wait_until(sub { !grep { $_ eq '!session mx <k6>' } session_keys() }),
    'after max-session: the record is swept');
is((authsink(@t, 'check', '192.0.2.41'))[0], 1, '  and the address no longer relays');

done_testing;
