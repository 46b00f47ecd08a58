#!/usr/bin/perl
# A real Postfix asks authsink whether a client may relay: smtpd on
# loopback ports with a private configuration directory and queue, the
# client address set with XCLIENT, and four ways to ask:
#   policy     check_policy_service unix:private/authsink (spawn(8) runs
#              `authsink policy`)
#   spawnmap   check_client_access socketmap: on a spawn(8) service
#              running `authsink socketmap`
#   servemap   check_client_access socketmap: on `authsink serve`
#   servepolicy check_policy_service inet: on the same `authsink serve`
#              (policy:tcp:, as contrib/postfix/main.cf has it)
#   export     check_client_access texthash: on the file authsinkd keeps
#              up to date (export = PATH, export-format = postfix)
# Relaying to a foreign domain must be accepted exactly for live entries.
#
# Postfix conflicts with Exim as a package: `.ci/deps postfix` unpacks it
# into /opt/authsink-peers/postfix (see .ci/unpack-postfix); a system
# Postfix is used when there is no private copy. master(8) needs root.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use File::Copy qw(copy);
use IO::Socket::INET;
use Time::HiRes qw(sleep);

need_peer($> == 0, 'root (Postfix master(8) runs its daemons as mail_owner)');

# --- find Postfix ---
my ($master, $libdir, $daemon_dir);
for my $root (map({ "$_/postfix" } grep { defined } $ENV{AUTHSINK_PEERS},
        '/opt/authsink-peers'), '') {
    my $m = "$root/usr/lib/postfix/sbin/master";
    next unless -x $m;
    ($master, $libdir, $daemon_dir) = ($m, "$root/usr/lib/postfix",
        "$root/usr/lib/postfix/sbin");
    last;
}
need_peer($master, 'Postfix (as root: sh .ci/deps postfix, which unpacks '
    . 'it into /opt/authsink-peers/postfix)');

# Postfix wants three distinct ids: mail_owner (not root), default_privs
# and setgid_group, none sharing a user or group id.
my ($owner) = grep { defined getpwnam($_) } qw(postfix mail);
my $nobody_gid = (getpwnam('nobody'))[3];
need_peer($owner && defined $nobody_gid, 'users mail (or postfix) and nobody');
my $owner_gid = (getpwnam($owner))[3];
my ($sgid) = grep { my $g = getgrnam($_);
    defined $g && $g != $owner_gid && $g != $nobody_gid && $g != 0 }
    qw(postdrop daemon news uucp);
need_peer($sgid, 'a group for setgid_group (postdrop or daemon)');

# --- authsinkd with an export file, and the helper nobody can run ---
my $dir = private_dir();
my $d = start_daemon(dir => $dir,
    extra => "export = $dir/relay.txt\nexport-format = postfix\nsweep-interval = 1s\n");
my $bin = "$dir/authsink";
copy(build_dir() . '/authsink', $bin) or die "copy: $!";
chmod 0755, $bin;
my @t = ('-t', $d->{table});
sub add { my ($rc, undef, $err) = authsink(@t, 'add', @_); $rc == 0 or die "add @_: $err" }

# --- one authsink serve for the socketmap and the policy service ---
my $mapsock = "$dir/map.sock";
my $policy_port = free_port();
my $serve = start_peer(name => 'authsink serve', log => "$dir/serve.log",
    argv => [$bin, @t, 'serve', "socketmap:unix:$mapsock", "policy:tcp:127.0.0.1:$policy_port"],
    ready => sub { -S $mapsock && tcp_listening($policy_port) });

# --- Postfix: main.cf, master.cf, queue ---
my %port = map { $_ => free_port() } qw(policy spawnmap servemap servepolicy export);
my $conf = "$dir/postfix";
my $queue = "$dir/queue";
mkdir $_ or die "$_: $!" for $conf, $queue, "$dir/data",
    map { "$queue/$_" } qw(pid private public incoming);
my ($uid, $gid) = (getpwnam($owner))[2, 3];
chown $uid, $gid, "$dir/data", map { "$queue/$_" } qw(private public incoming);
chmod 0700, "$queue/incoming";

write_file("$conf/main.cf", <<"EOF");
compatibility_level = 3.6
queue_directory = $queue
data_directory = $dir/data
daemon_directory = $daemon_dir
shlib_directory = $libdir
meta_directory = $conf
mail_owner = $owner
default_privs = nobody
setgid_group = $sgid
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.example.test
mydomain = example.test
mydestination = example.test
local_recipient_maps =
mynetworks = 127.0.0.1/32
inet_interfaces = 127.0.0.1
inet_protocols = all
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 0.0.0.0/0 [::]/0
biff = no
authsink_policy = check_policy_service unix:private/authsink, reject_unauth_destination
authsink_spawnmap = check_client_access socketmap:unix:private/authsink-map:relay, reject_unauth_destination
authsink_servemap = check_client_access socketmap:unix:$mapsock:relay, reject_unauth_destination
authsink_servepolicy = check_policy_service inet:127.0.0.1:$policy_port, reject_unauth_destination
authsink_export = check_client_access texthash:$dir/relay.txt, reject_unauth_destination
EOF

write_file("$conf/master.cf", <<"EOF");
127.0.0.1:$port{policy} inet n - n - - smtpd -o smtpd_relay_restrictions=\$authsink_policy
127.0.0.1:$port{spawnmap} inet n - n - - smtpd -o smtpd_relay_restrictions=\$authsink_spawnmap
127.0.0.1:$port{servemap} inet n - n - - smtpd -o smtpd_relay_restrictions=\$authsink_servemap
127.0.0.1:$port{servepolicy} inet n - n - - smtpd -o smtpd_relay_restrictions=\$authsink_servepolicy
127.0.0.1:$port{export} inet n - n - - smtpd -o smtpd_relay_restrictions=\$authsink_export -o max_use=1
rewrite unix - - n - - trivial-rewrite
anvil unix - - n - 1 anvil
cleanup unix n - n - 0 cleanup
postlog unix-dgram n - n - 1 postlogd
EOF
# The spawn services exactly as contrib/postfix/master.cf has them.
open my $mf, '>>', "$conf/master.cf" or die;
print $mf contrib_text('postfix/master.cf', '/usr/bin/authsink' => "$bin @t");
close $mf;

my $pf = start_peer(name => 'postfix master', log => "$dir/master.log",
    argv => [$master, '-c', $conf, '-d'],
    env => { LD_LIBRARY_PATH => $libdir, MAIL_CONFIG => $conf },
    ready => sub { for my $p (values %port) { return 0 unless tcp_listening($p) } 1 });

# --- an SMTP client that says which address it comes from ---
sub rcpt {
    my ($via, $client, $rcpt) = @_;
    $rcpt //= 'someone@foreign.test';
    local $SIG{ALRM} = sub { die "SMTP timeout\n" };
    alarm 60;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port{$via}, Proto => 'tcp') or die "connect: $!";
    my $read = sub {
        my $all = '';
        while (defined(my $l = <$s>)) { $all .= $l; last if $l =~ /^\d{3} / }
        return $all;
    };
    my $cmd = sub { print $s "$_[0]\r\n"; $read->() };
    my $r = $read->();
    $r =~ /^220 / or die "banner: $r";
    $cmd->('EHLO client.test') =~ /XCLIENT/ or die "no XCLIENT offered";
    my $addr = $client =~ /:/ ? "IPV6:$client" : $client;
    $r = $cmd->("XCLIENT ADDR=$addr NAME=[UNAVAILABLE]");
    $r =~ /^220 / or die "XCLIENT: $r";
    $cmd->('EHLO client.test');
    $r = $cmd->('MAIL FROM:<user@client.test>');
    $r =~ /^250 / or die "MAIL: $r";
    $r = $cmd->("RCPT TO:<$rcpt>");
    $cmd->('QUIT');
    close $s;
    alarm 0;
    $r =~ s/\r?\n.*//s;
    return $r;
}

my $RELAY_OK = qr/^250 /;
my $DENIED = qr/^554 5\.7\.1 .*Relay access denied/;

add('192.0.2.7', '--user', 'alice');
add('2001:db8::7');
add('192.0.2.9', '--ttl', '1');
# `authsink add` writes the table itself; the daemon's export follows at
# its next sweep.
ok(wait_until(sub { my $x = slurp_file("$dir/relay.txt") // '';
        $x =~ /^192\.0\.2\.7 OK$/m && $x =~ /^2001:db8::7 OK$/m }, 10),
    'authsinkd exports the table in Postfix format');

for my $via (qw(policy spawnmap servemap servepolicy export)) {
    like(rcpt($via, '192.0.2.7'), $RELAY_OK, "$via: live IPv4 client may relay");
    like(rcpt($via, '2001:db8::7'), $RELAY_OK, "$via: live IPv6 client may relay");
    like(rcpt($via, '192.0.2.8'), $DENIED, "$via: unknown client may not relay");
    like(rcpt($via, '192.0.2.8', 'postmaster@example.test'), $RELAY_OK,
        "$via: unknown client still reaches a local domain");
}

# Expiry: the entry is still in the table, but no longer live.
sleep 1.2;
for my $via (qw(policy spawnmap servemap servepolicy)) {
    like(rcpt($via, '192.0.2.9'), $DENIED, "$via: an expired entry grants nothing");
}

# A login seen by authsinkd opens relaying, end to end.
send_udp($d->{udp}, "<38>1 - mx dovecot 4242 - - " . dovecot_login('bob', '198.51.100.20'));
ok(wait_until(sub { (authsink(@t, 'check', '198.51.100.20'))[0] == 0 }, 10),
    'a Dovecot login reaches the table');
for my $via (qw(policy spawnmap servemap servepolicy)) {
    like(rcpt($via, '198.51.100.20'), $RELAY_OK, "$via: relaying after a POP/IMAP login");
}
ok(wait_until(sub { (slurp_file("$dir/relay.txt") // '') =~ /^198\.51\.100\.20 OK$/m }, 10),
    'the export file follows the commit');
like(rcpt('export', '198.51.100.20'), $RELAY_OK, 'export: relaying after a login');

# Revocation by hand.
authsink(@t, 'del', '192.0.2.7');
for my $via (qw(policy spawnmap servemap servepolicy)) {
    like(rcpt($via, '192.0.2.7'), $DENIED, "$via: a deleted entry grants nothing");
}

# Table unreadable: mail that needs relaying is deferred, never accepted
# or bounced; mail for a local domain is not held up. (authsinkd would
# recreate a missing table, so it is stopped first: entries stay valid
# without it, readers check their expiry themselves.)
Authsink::stop_daemon($d);
like(rcpt('policy', '198.51.100.20'), $RELAY_OK, 'policy: authsinkd stopped: entries still valid');
rename $d->{table}, "$d->{table}.away" or die;
like(rcpt('policy', '198.51.100.20'), qr/^4\d\d /, 'policy: table missing: relaying deferred (4xx)');
like(rcpt('policy', '198.51.100.20', 'postmaster@example.test'), $RELAY_OK,
    'policy: table missing: local mail accepted');
like(rcpt('spawnmap', '198.51.100.20'), qr/^4\d\d /, 'spawnmap: table missing: 4xx');
like(rcpt('servemap', '198.51.100.20'), qr/^4\d\d /, 'servemap: table missing: 4xx');
like(rcpt('servepolicy', '198.51.100.20'), qr/^4\d\d /, 'servepolicy: table missing: relaying deferred (4xx)');
like(rcpt('servepolicy', '198.51.100.20', 'postmaster@example.test'), $RELAY_OK,
    'servepolicy: table missing: local mail accepted');
rename "$d->{table}.away", $d->{table} or die;
like(rcpt('servemap', '198.51.100.20'), $RELAY_OK, 'servemap: the table is back, so is relaying');
like(rcpt('servepolicy', '198.51.100.20'), $RELAY_OK, 'servepolicy: the table is back');
like(rcpt('policy', '198.51.100.20'), $RELAY_OK, 'policy: the table is back');

# The exported file is gone: no relaying through texthash either.
rename "$dir/relay.txt", "$dir/relay.txt.away" or die;
my $r = rcpt('export', '198.51.100.20');
unlike($r, qr/^250 /, "export: file missing: not relayed ($r)");
rename "$dir/relay.txt.away", "$dir/relay.txt" or die;

# Up to here Postfix must not have had a problem with authsink.
my $log = slurp_file("$dir/maillog") // '';
unlike($log, qr/problem talking to server|malformed|protocol error|fatal|panic/i,
    'Postfix logged no protocol problem with authsink')
    or diag($log);

# The long-running reader is gone: Postfix defers, it does not relay.
stop_peer($serve);
like(rcpt('servemap', '198.51.100.20'), qr/^4\d\d /, 'servemap: reader stopped: 4xx');
like(rcpt('servepolicy', '198.51.100.20'), qr/^4\d\d /, 'servepolicy: reader stopped: 4xx');
ok(!-e $mapsock, 'authsink serve removed its socket on SIGTERM');

sub slurp_file { my ($f) = @_; open my $h, '<', $f or return undef; local $/; <$h> }

done_testing;
