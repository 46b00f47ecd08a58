# AuthsinkDovecot.pm - a private Dovecot for tests: passwd-file users
# alice/wonderland and bob/builder, IMAP and POP3 on free loopback ports,
# contrib/dovecot/authsink.conf included, and syslog(3) going to a socket
# of the test's choosing: in a private mount namespace, /dev/log is bound
# to it, so the host's logging is never touched. Needs root.
package AuthsinkDovecot;
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use Test::More;
use Authsink;

our @EXPORT = qw(need_dovecot start_dovecot imap_login pop3_login imap_open imap_logout);

my ($imap, $pop3);

sub need_dovecot {
    my $dovecot = need_program('dovecot', 'dovecot-imapd');
    need_program('rsyslogd', 'rsyslog');
    my $unshare = need_program('unshare', 'util-linux');
    need_peer(-x '/usr/lib/dovecot/imap' && -x '/usr/lib/dovecot/pop3',
        'Dovecot IMAP and POP3 (apt-get install dovecot-imapd dovecot-pop3d)');
    need_peer($> == 0, 'root privilege (Dovecot drops privileges; a private /dev/log needs a mount namespace)');
    need_peer(system($unshare, '-m', '--propagation', 'private', 'true') == 0,
        'mount namespaces (unshare -m)');
    need_peer(getpwnam('nobody') && getpwnam('dovenull') && getpwnam('dovecot'),
        'the users nobody, dovecot and dovenull (created by dovecot-core)');
    return $dovecot;
}

# start_dovecot(DIR, DEVLOG): Dovecot's files under DIR/dovecot, its
# syslog(3) into the datagram socket DEVLOG. Returns DIR/dovecot.
sub start_dovecot {
    my ($dir, $devlog) = @_;
    my $dovecot = need_dovecot();
    my $unshare = need_program('unshare', 'util-linux');
    my ($nobody_uid, $nogroup_gid) = (getpwnam('nobody'))[2, 3];
    my $dv = "$dir/dovecot";
    mkdir $_ or die "$_: $!" for $dv, "$dv/home";
    chown $nobody_uid, $nogroup_gid, "$dv/home";
    write_file("$dv/users", "alice:{PLAIN}wonderland\nbob:{PLAIN}builder\n", 0644);
    write_file("$dv/authsink.conf", contrib_text('dovecot/authsink.conf'));
    ($imap, $pop3) = (free_port(), free_port());
    my $conf = write_file("$dv/dovecot.conf", <<~"EOC");
    # written by t/lib/AuthsinkDovecot.pm
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
    my $ns = <<~'EOS';
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
    return $dv;
}

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
# An IMAP session left open, as a mail client keeps it: imap_open logs in
# and returns (the connection, the tagged reply); imap_logout ends it.
sub imap_open {
    my ($from, $user, $pass) = @_;
    my $s = client($from, $imap);
    my $greet = line($s);
    die "IMAP greeting: $greet" unless $greet =~ /^\* OK/;
    return ($s, imap_cmd($s, 'a1', qq{LOGIN "$user" "$pass"}));
}
sub imap_logout {
    my ($s) = @_;
    my $r = imap_cmd($s, 'z9', 'LOGOUT');
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

1;
