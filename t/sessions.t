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

done_testing;
