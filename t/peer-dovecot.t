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
use IO::Socket::INET;

my $dovecot = need_program('dovecot', 'dovecot-imapd');
need_program('rsyslogd', 'rsyslog');
my $unshare = need_program('unshare', 'util-linux');
need_peer(-x '/usr/lib/dovecot/imap' && -x '/usr/lib/dovecot/pop3',
    'Dovecot IMAP and POP3 (apt-get install dovecot-imapd dovecot-pop3d)');
need_peer($> == 0, 'root privilege (Dovecot drops privileges; a private /dev/log needs a mount namespace)');
need_peer(system($unshare, '-m', '--propagation', 'private', 'true') == 0,
    'mount namespaces (unshare -m)');
my ($nobody_uid, $nogroup_gid) = (getpwnam('nobody'))[2, 3];
need_peer(defined $nobody_uid && getpwnam('dovenull') && getpwnam('dovecot'),
    'the users nobody, dovecot and dovenull (created by dovecot-core)');

my $dir = private_dir();
my $d = start_daemon(dir => $dir);
my @t = ('-t', $d->{table});
sub allowed { (authsink(@t, 'check', $_[0]))[0] == 0 }
sub entry {
    my ($addr) = @_;
    my ($rc, $json) = authsink(@t, 'list', '--json');
    return undef if $rc != 0;
    my ($e) = grep { $_->{address} eq $addr } @{ decode_json($json) };
    return $e;
}

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

# --- Dovecot: private everything, the shipped snippet included ---
my $dv = "$dir/dovecot";
mkdir $_ or die "$_: $!" for $dv, "$dv/home";
chown $nobody_uid, $nogroup_gid, "$dv/home";
write_file("$dv/users", "alice:{PLAIN}wonderland\nbob:{PLAIN}builder\n", 0644);
write_file("$dv/authsink.conf", contrib_text('dovecot/authsink.conf'));
my ($imap, $pop3) = (free_port(), free_port());
my $conf = write_file("$dv/dovecot.conf", <<"EOC");
# written by t/peer-dovecot.t
base_dir = $dv/run
state_dir = $dv/state
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dv/users
}
userdb {
  driver = static
  args = uid=$nobody_uid gid=$nogroup_gid home=$dv/home/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3
  }
  inet_listener pop3s {
    port = 0
  }
}
!include $dv/authsink.conf
EOC
my ($rc, $out, $err) = run_cmd('doveconf', '-c', $conf, '-n');
is($rc, 0, 'doveconf accepts the private configuration') or diag($out, $err);

# In a private mount namespace: a tmpfs /dev with the few nodes Dovecot
# needs bound back, and rsyslog's socket bound to /dev/log.
my $ns = <<'EOS';
set -e
mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero random urandom tty full; do
	touch "/dev/$n"; mount --bind "$T/olddev/$n" "/dev/$n"
done
touch /dev/log
mount --bind "$DEVLOG" /dev/log
exec "$DOVECOT" -F -c "$CONF"
EOS
start_peer(name => 'dovecot', log => "$dv/dovecot.out",
    env => { T => $dv, DEVLOG => $devlog, DOVECOT => $dovecot, CONF => $conf },
    argv => [$unshare, '-m', '--propagation', 'private', 'sh', '-c', $ns],
    ready => sub { tcp_listening($imap) && tcp_listening($pop3) });

# --- clients, each from its own loopback address ---
sub client {
    my ($from, $port) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $from, PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'tcp', Timeout => 10) or die "connect from $from: $!";
    $s->autoflush(1);
    return $s;
}
sub line { my ($s) = @_; my $l = <$s>; $l //= ''; $l =~ s/\r?\n\z//; $l }
sub imap_cmd {
    my ($s, $tag, $cmd) = @_;
    print $s "$tag $cmd\r\n";
    while (defined(my $l = line($s))) {
        return $l if $l =~ /^\Q$tag\E / || $l eq '';
    }
}
sub imap_login {
    my ($from, $user, $pass) = @_;
    my $s = client($from, $imap);
    my $greet = line($s);
    die "IMAP greeting: $greet" unless $greet =~ /^\* OK/;
    my $r = imap_cmd($s, 'a1', qq{LOGIN "$user" "$pass"});
    imap_cmd($s, 'a2', 'LOGOUT');
    close $s;
    return $r;
}
sub pop3_login {
    my ($from, $user, $pass) = @_;
    my $s = client($from, $pop3);
    my $greet = line($s);
    die "POP3 greeting: $greet" unless $greet =~ /^\+OK/;
    print $s "USER $user\r\n"; line($s);
    print $s "PASS $pass\r\n"; my $r = line($s);
    print $s "QUIT\r\n"; line($s);
    close $s;
    return $r;
}

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
is($e && $e->{rule}, 'dovecot-login', 'IMAP login: rule dovecot-login');

like(pop3_login('127.0.0.25', 'bob', 'builder'), qr/^\+OK/, 'POP3 USER/PASS succeeds');
ok(wait_until(sub { allowed('127.0.0.25') }, 10), 'POP3 login reaches the table');
$e = entry('127.0.0.25');
is($e && $e->{user}, 'bob', 'POP3 login: user bob recorded');
is($e && $e->{rule}, 'dovecot-login', 'POP3 login: rule dovecot-login');

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
