#!/usr/bin/perl
# An IMAP session that outlives the ttl, through real Dovecot: the client
# logs in and keeps its connection, as Thunderbird does for hours. The
# login line carries session=<S>; the session's process logs
# "imap(U)<PID><S>: Disconnected: Logged out ..." when it ends. With the
# shipped rules the address stays allowed while the session is open, and
# for ttl after the logout.
#   Dovecot -> syslog(3) -> private rsyslog -> authsinkd -> table
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkDovecot;
use Time::HiRes qw(sleep time);

need_dovecot();

my $ttl = 3;
my $dir = private_dir();
my $d = start_daemon(dir => $dir, extra => "ttl = ${ttl}s\n");
sub allowed { relayed($d, $_[0]) }
sub entry { table_entry($d, $_[0]) }

my $rsdir = "$dir/rsyslog";
mkdir $rsdir or die;
my $devlog = "$rsdir/devlog";
my $seen = "$rsdir/mail.log";
start_rsyslog(dir => $rsdir, conf => <<"EOC"
global(workDirectory="$rsdir")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$devlog")
mail.* action(type="omfile" file="$seen")
EOC
    . contrib_text('rsyslog/authsink.conf', '/run/authsink/log.sock' => $d->{sock}),
    ready => sub { -S $devlog });
chmod 0666, $devlog;
my $dv = start_dovecot($dir, $devlog);
sub logs { "authsinkd:\n" . Authsink::slurp($d->{log}) . "syslog:\n" . Authsink::slurp($seen) }

# Two sessions from one address (a client's inbox and a second folder),
# one from another address that logs out at once.
my ($s1, $r1) = imap_open('127.0.0.31', 'alice', 'wonderland');
like($r1, qr/^a1 OK/, 'first IMAP session logged in');
my ($s2, $r2) = imap_open('127.0.0.31', 'alice', 'wonderland');
like($r2, qr/^a1 OK/, 'second IMAP session from the same address');
like(imap_login('127.0.0.32', 'bob', 'builder'), qr/^a1 OK/, 'a short session: login, logout');
my $t0 = time;
ok(wait_until(sub { allowed('127.0.0.31') && (entry('127.0.0.31')->{open} // 0) == 2 }, 10),
    'the address of the open sessions is allowed, two sessions open') or diag(logs());
is(entry('127.0.0.31')->{rule}, 'dovecot-session', 'by the session rule');
ok(wait_until(sub { Authsink::slurp($seen) =~ /imap\(bob\)<\d+><[^>]+>: Disconnected: Logged out/ }, 10),
    'Dovecot logged the short session\'s logout with its session key') or diag(logs());

# Past the ttl: the short session has lapsed, the open ones hold.
sleep($ttl + 1.5 - (time - $t0)) if time - $t0 < $ttl + 1.5;
ok(wait_until(sub { !allowed('127.0.0.32') }, 10), 'the closed session lapses after its ttl');
ok(allowed('127.0.0.31'), 'beyond the ttl, open sessions keep the address allowed');

like(imap_logout($s1), qr/^z9 OK/, 'one session logs out');
ok(wait_until(sub { (entry('127.0.0.31')->{open} // 0) == 1 }, 10), 'one session left open')
    or diag(logs());
sleep($ttl + 1);
ok(allowed('127.0.0.31'), 'one logout of two: still allowed beyond the ttl');

like(imap_logout($s2), qr/^z9 OK/, 'the last session logs out');
ok(wait_until(sub { (entry('127.0.0.31')->{open} // 1) == 0 }, 10), 'no session left open')
    or diag(logs());
my $closed = time;
my $e = entry('127.0.0.31');
ok($e->{expires} >= int($closed) - 2 && $e->{expires} <= int($closed) + $ttl + 1,
    'expiry is the logout plus the ttl') or diag("expires=$e->{expires} closed=$closed");
ok(wait_until(sub { !allowed('127.0.0.31') }, $ttl + 10), 'and then it lapses');

diag("Dovecot's lines:\n" . Authsink::slurp($seen)) if $ENV{AUTHSINK_SHOW_LOG};
done_testing;
