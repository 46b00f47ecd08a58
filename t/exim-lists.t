#!/usr/bin/perl
# Exim without the ${dlfunc} module: contrib/exim/authsink-export.acl
# (net-iplsearch on the file authsinkd exports) and
# contrib/exim/authsink-readsocket.acl (${readsocket} on `authsink serve
# line:...`), each in a private Exim configuration run with
# `exim -C CONF -bh ADDR`. Relaying to a foreign domain is accepted
# exactly for live entries, IPv6 included; an unreadable list or reader
# never relays (451, or the session ends): a missing table, a serve
# killed (its socket left, nobody listening), a serve stopped (no socket). (The module and ${run}: t/peer-exim.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkExim;
use AuthsinkProto;

my $exim = need_program('exim4', 'exim4-daemon-heavy');
my $dir = private_dir();
my $export = "$dir/relay.txt";
my $sock = "$dir/line.sock";
my $d = start_daemon(dir => $dir,
    extra => "export = $export\nexport-format = exim\nsweep-interval = 1s\n");
my @t = ('-t', $d->{table});
my $serve = start_serve($dir, @t, 'serve', "line:unix:$sock");

sub rcpt { my ($conf, $from, $to) = @_; exim_rcpt($exim, $conf, $from, $to // 'someone@foreign.example.net') }

my %conf = map { $_ => exim_conf($dir, $_, $_, AUTHSINK_EXPORT => $export,
    AUTHSINK_LINE_SOCKET => $sock) } qw(export readsocket);
my ($OK, $NO, $DEFER) = (qr/^250 /, qr/^550 relay not permitted/, qr/^451 /);

authsink(@t, 'add', '192.0.2.7');
authsink(@t, 'add', '2001:db8::7');
ok(wait_until(sub { (Authsink::slurp($export)) =~ /^"2001:db8::7"$/m }, 10),
    'authsinkd exports the table with IPv6 quoted');

for my $m (qw(export readsocket)) {
    like(rcpt($conf{$m}, '192.0.2.7'), $OK, "$m: live IPv4 client relays");
    like(rcpt($conf{$m}, '2001:db8::7'), $OK, "$m: live IPv6 client relays");
    like(rcpt($conf{$m}, '::ffff:192.0.2.7'), $OK, "$m: IPv4-mapped form relays");
    like(rcpt($conf{$m}, '192.0.2.8'), $NO, "$m: unknown client refused");
    like(rcpt($conf{$m}, '2001:db8::8'), $NO, "$m: unknown IPv6 client refused");
    like(rcpt($conf{$m}, '192.0.2.8', 'postmaster@example.org'), $OK,
        "$m: local domain accepted (the ACL works)");
}

# A login through the daemon; a deletion by hand.
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('bob', '198.51.100.20'));
ok(wait_until(sub { Authsink::slurp($export) =~ /^198\.51\.100\.20$/m }, 10),
    'a login reaches the export file');
like(rcpt($conf{$_}, '198.51.100.20'), $OK, "$_: relays after a login") for qw(export readsocket);
authsink(@t, 'del', '192.0.2.7');
ok(wait_until(sub { Authsink::slurp($export) !~ /^192\.0\.2\.7$/m }, 10),
    'a deleted entry leaves the export file at the next sweep');
like(rcpt($conf{$_}, '192.0.2.7'), $NO, "$_: refused after deletion") for qw(export readsocket);

# Unavailable: defer, never relay.
Authsink::stop_daemon($d);	# it would recreate what we move away
rename $export, "$export.away" or die;
my $r = rcpt($conf{export}, '198.51.100.20');
ok($r =~ /^4\d\d / || $r =~ /^no RCPT reply/, 'export: missing file: no relaying (4xx or session ended)')
    or diag($r);
unlike($r, qr/^250 /, 'export: missing file: never 250');
rename "$export.away", $export or die;
rename $d->{table}, "$d->{table}.away" or die;
like(rcpt($conf{readsocket}, '198.51.100.20'), $DEFER, 'readsocket: table missing: 451');
rename "$d->{table}.away", $d->{table} or die;
like(rcpt($conf{readsocket}, '198.51.100.20'), $OK, 'readsocket: table back');
# serve killed: its socket file is left, nobody listens on it.
kill 'KILL', $serve->{pid};
is(waitpid($serve->{pid}, 0), delete $serve->{pid}, 'serve killed with -9');
ok(-S $sock, '  its socket file is left behind');
like(rcpt($conf{readsocket}, '198.51.100.20'), $DEFER, 'readsocket: stale socket, no reader: 451');
unlike(rcpt($conf{readsocket}, '198.51.100.20', 'someone@foreign.example.net'), $OK,
    'readsocket: stale socket: never 250');
# A new serve replaces the stale socket; Exim relays again.
$serve = start_serve($dir, @t, 'serve', "line:unix:$sock");
like(rcpt($conf{readsocket}, '198.51.100.20'), $OK, 'readsocket: serve restarted: relays again');
like(rcpt($conf{readsocket}, '192.0.2.8'), $NO, 'readsocket: serve restarted: unknown refused');
stop_peer($serve);
ok(!-e $sock, 'serve stopped: socket removed');
like(rcpt($conf{readsocket}, '198.51.100.20'), $DEFER, 'readsocket: no socket: 451');

done_testing;
