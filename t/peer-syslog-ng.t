#!/usr/bin/perl
# syslog-ng -> authsinkd with the snippets shipped in contrib/syslog-ng/:
# network() over UDP and over TCP (BSD format), syslog() (RFC 5424 with
# RFC 6587 octet counting over TCP) and unix-dgram(). Each path is its own
# syslog-ng, fed by logger(1) through a private network() source, so
# breaking one path fails that path's tests by name.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use JSON::PP;

my $logger = need_program('logger', 'bsdutils');
my $sng = peer_syslog_ng();

my $d = start_daemon();
my @t = ('-t', $d->{table});

sub allowed { relayed($d, $_[0]) }
sub entry { table_entry($d, $_[0]) }

# s_src and f_mail stand in for the ones of Debian's syslog-ng.conf.
sub syslog_ng_with {
    my ($name, $snippet) = @_;
    my $dir = "$d->{dir}/$name";
    mkdir $dir or die "$dir: $!";
    my $feed = free_port();
    my $conf = <<"EOC" . $snippet;
options { keep-hostname(yes); };
source s_src { network(ip("127.0.0.1") port($feed) transport("udp")); };
filter f_mail { facility(mail); };
EOC
    start_syslog_ng(syslog_ng => $sng, dir => $dir, name => $name, conf => $conf,
        ready => sub { udp_bound($feed) });
    return $feed;
}

sub feed {
    my ($port, $msg, @opt) = @_;
    system($logger, '--server', '127.0.0.1', '--port', $port, '--udp',
        '--rfc3164', '-p', 'mail.info', '-t', 'dovecot', @opt, $msg) == 0
        or die "logger failed";
}

my @paths = (
    [udp => 'network() UDP', '192.0.2.91', 'nina', 'imap',
        contrib_text('syslog-ng/authsink-udp.conf', 'port(5514)' => "port($d->{udp})")],
    [tcp => 'network() TCP, LF framed', '192.0.2.92', 'ned', 'pop3',
        contrib_text('syslog-ng/authsink-tcp.conf', 'port(5514)' => "port($d->{tcp})")],
    [syslog => 'syslog(), RFC 5424 octet-counted', '192.0.2.93', 'nora', 'imap',
        contrib_text('syslog-ng/authsink-syslog.conf', 'port(5514)' => "port($d->{tcp})")],
    [unix => 'unix-dgram()', '192.0.2.94', 'noel', 'pop3',
        contrib_text('syslog-ng/authsink.conf', '/run/authsink/log.sock' => $d->{sock})],
);

for my $c (@paths) {
    my ($p, $what, $ip, $user, $svc, $snippet) = @$c;
    my $port = syslog_ng_with("sng-$p", $snippet);
    ok(!allowed($ip), "$p: $ip not allowed before its login");
    feed($port, "$svc-login: Disconnected (auth failed, 1 attempts in 2 secs): "
        . "user=<$user>, method=PLAIN, rip=198.51.100.1, lip=127.0.0.1, session=<AbCd>");
    feed($port, dovecot_login('mallory', '198.51.100.2', $svc), '-t', 'notdovecot');
    feed($port, dovecot_login($user, $ip, $svc), '-p', 'user.info');   # not mail: filtered
    feed($port, dovecot_login($user, $ip, $svc));
    ok(wait_until(sub { allowed($ip) }, 10), "$p: $what reaches the table")
        or diag(Authsink::slurp($d->{log}), Authsink::slurp("$d->{dir}/sng-$p/sng-$p.log"));
    my $e = entry($ip);
    is($e && $e->{user}, $user, "$p: user recorded");
    is($e && $e->{rule}, 'dovecot-login', "$p: rule recorded");
    is($e && $e->{count}, 1, "$p: one login (the user.info copy was filtered out)");
    ok(!allowed('198.51.100.1'), "$p: a failed login adds nothing");
    ok(!allowed('198.51.100.2'), "$p: a login line from another program adds nothing");
}

# Everything syslog-ng sent was understood: the trailing LF it appends to
# every datagram and counted frame, octet counting, both formats.
kill 'USR1', $d->{pid};
my $dumpfile = "$d->{dir}/authsinkd.dump";
ok(wait_until(sub { -s $dumpfile }), 'SIGUSR1 dump');
my %n = Authsink::slurp($dumpfile) =~ /^(\w+) (\d+)$/mg;
is($n{received}, 12, 'the daemon received exactly the 12 mail messages fed in');
is($n{malformed}, 0, 'none malformed');
is($n{framing_errors}, 0, 'no framing errors');
is($n{matched}, 4, 'exactly the 4 logins matched a rule');

done_testing;
