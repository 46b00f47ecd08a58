#!/usr/bin/perl
# A real Dovecot login reaches the relay table through a real syslog path:
#   IMAP LOGIN / POP3 USER+PASS over loopback -> Dovecot (private instance,
#   passwd-file passdb, contrib/dovecot/authsink.conf) -> syslog(3) ->
#   /dev/log, which in Dovecot's private mount namespace is rsyslog's
#   imuxsock socket -> rsyslog with contrib/rsyslog/authsink.conf
#   (omuxsock) -> authsinkd's unix-dgram socket -> table.
# Each client binds its own loopback address (127.0.0.23, ...), so the
# table shows which connection logged in; the host's /dev is untouched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use JSON::PP;
use AuthsinkDovecot;

need_dovecot();

my $dir = private_dir();
my $d = start_daemon(dir => $dir);
my @t = ('-t', $d->{table});
sub allowed { relayed($d, $_[0]) }
sub entry { table_entry($d, $_[0]) }

# --- rsyslog: a private imuxsock socket in, the shipped snippet out ---
my $rsdir = "$dir/rsyslog";
mkdir $rsdir or die;
my $devlog = "$rsdir/devlog";
start_rsyslog(dir => $rsdir, conf => <<"EOC"
global(workDirectory="$rsdir")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$devlog")
EOC
    . contrib_text('rsyslog/authsink.conf', '/run/authsink/log.sock' => $d->{sock}),
    ready => sub { -S $devlog });
chmod 0666, $devlog;

my $dv = start_dovecot($dir, $devlog);

ok(!allowed('127.0.0.23'), 'IMAP client address not allowed before login');
ok(!allowed('127.0.0.25'), 'POP3 client address not allowed before login');

# A failed login first: when the later good ones have arrived, so has it.
like(imap_login('127.0.0.24', 'alice', 'wrong'), qr/^a1 NO/, 'IMAP LOGIN with a wrong password fails');
like(pop3_login('127.0.0.26', 'bob', 'wrong'), qr/^-ERR/, 'POP3 PASS with a wrong password fails');

like(imap_login('127.0.0.23', 'alice', 'wonderland'), qr/^a1 OK/, 'IMAP LOGIN succeeds');
ok(wait_until(sub { allowed('127.0.0.23') }, 10),
    'IMAP login: Dovecot -> syslog(3) -> rsyslog -> authsinkd -> table')
    or diag("authsinkd:\n", Authsink::slurp($d->{log}), "rsyslog:\n",
        Authsink::slurp("$rsdir/rsyslog.log"), "dovecot:\n", Authsink::slurp("$dv/dovecot.out"));
my $e = entry('127.0.0.23');
is($e && $e->{user}, 'alice', 'IMAP login: user alice recorded');
is($e && $e->{rule}, 'dovecot-session', 'IMAP login: rule dovecot-session (the line has session=<>)');

like(pop3_login('127.0.0.25', 'bob', 'builder'), qr/^\+OK/, 'POP3 USER/PASS succeeds');
ok(wait_until(sub { allowed('127.0.0.25') }, 10), 'POP3 login reaches the table');
$e = entry('127.0.0.25');
is($e && $e->{user}, 'bob', 'POP3 login: user bob recorded');
is($e && $e->{rule}, 'dovecot-session', 'POP3 login: rule dovecot-session');

ok(!allowed('127.0.0.24'), 'failed IMAP login adds nothing');
ok(!allowed('127.0.0.26'), 'failed POP3 login adds nothing');
ok(!allowed('127.0.0.1'), 'the server address (lip) is not added');
my ($lrc, $json) = authsink(@t, 'list', '--json');
is_deeply([sort map { $_->{address} } @{ decode_json($json) }],
    ['127.0.0.23', '127.0.0.25'], 'the table holds exactly the two logged-in clients');

# The host's /dev/log was never touched: our socket is not bound there.
ok(!-e '/dev/log' || (stat '/dev/log')[1] != (stat $devlog)[1],
    "the host's /dev/log is not the test's socket");

done_testing;
