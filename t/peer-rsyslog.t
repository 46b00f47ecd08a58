#!/usr/bin/perl
# rsyslog -> authsinkd with the snippets shipped in contrib/rsyslog/:
# omfwd over UDP (RFC 5424), omfwd over TCP octet-counted (RFC 5424) and
# omuxsock to the UNIX datagram socket. Each path is its own rsyslogd,
# fed by logger(1) through a private imudp input, so breaking one path
# (snippet, framing, parser, rule) fails that path's tests by name.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use JSON::PP;

my $logger = need_program('logger', 'bsdutils');
need_program('rsyslogd', 'rsyslog');

my $d = start_daemon();
my @t = ('-t', $d->{table});

sub allowed { relayed($d, $_[0]) }
sub entry { table_entry($d, $_[0]) }

# One rsyslogd per forwarding path: a private imudp input on a free port,
# then the shipped snippet with the daemon's port or socket put in.
sub rsyslog_with {
    my ($name, $snippet) = @_;
    my $dir = "$d->{dir}/$name";
    mkdir $dir or die "$dir: $!";
    my $feed = free_port();
    my $conf = <<"EOC" . $snippet;
global(workDirectory="$dir")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$feed")
EOC
    start_rsyslog(dir => $dir, name => $name, conf => $conf,
        ready => sub { udp_bound($feed) });
    return $feed;
}

sub feed {
    my ($port, $msg, @opt) = @_;
    system($logger, '--server', '127.0.0.1', '--port', $port, '--udp',
        '-p', 'mail.info', '-t', 'dovecot', @opt, $msg) == 0
        or die "logger failed";
}

my %path = (
    udp => rsyslog_with('rs-udp', contrib_text('rsyslog/authsink-udp.conf',
        'port="5514"' => qq{port="$d->{udp}"})),
    tcp => rsyslog_with('rs-tcp', contrib_text('rsyslog/authsink-tcp.conf',
        'port="5514"' => qq{port="$d->{tcp}"})),
    unix => rsyslog_with('rs-unix', contrib_text('rsyslog/authsink.conf',
        '/run/authsink/log.sock' => $d->{sock})),
);

my %case = (
    udp  => ['192.0.2.81', 'ursula', 'imap'],
    tcp  => ['192.0.2.82', 'tom', 'pop3'],
    unix => ['192.0.2.83', 'uma', 'imap'],
);
for my $p (qw(udp tcp unix)) {
    my ($ip, $user, $svc) = @{ $case{$p} };
    my $what = $p eq 'unix' ? 'omuxsock to the UNIX datagram socket'
             : $p eq 'tcp' ? 'omfwd TCP, octet-counted RFC 5424'
             : 'omfwd UDP, RFC 5424';
    ok(!allowed($ip), "$p: $ip not allowed before its login");
    # A failed login, another program, another facility, then the login:
    # the path is ordered, so when the login has arrived so have they.
    feed($path{$p}, "$svc-login: Disconnected (auth failed, 1 attempts in 2 secs): "
        . "user=<$user>, method=PLAIN, rip=198.51.100.1, lip=127.0.0.1, session=<AbCd>");
    feed($path{$p}, dovecot_login('mallory', '198.51.100.2', $svc), '-t', 'notdovecot');
    feed($path{$p}, dovecot_login($user, $ip, $svc), '-p', 'user.info');  # not mail: filtered
    feed($path{$p}, dovecot_login($user, $ip, $svc));
    ok(wait_until(sub { allowed($ip) }, 10), "$p: $what reaches the table")
        or diag(Authsink::slurp($d->{log}));
    my $e = entry($ip);
    is($e && $e->{user}, $user, "$p: user recorded");
    is($e && $e->{rule}, 'dovecot-login', "$p: rule recorded");
    is($e && $e->{count}, 1, "$p: one login (the user.info copy was filtered out)");
    ok(!allowed('198.51.100.1'), "$p: a failed login adds nothing");
    ok(!allowed('198.51.100.2'), "$p: a login line from another program adds nothing");
}

# Everything rsyslog sent was understood: its framing (octet counts, the
# LF that RSYSLOG_SyslogProtocol23Format appends) and both syslog formats.
my ($rc, $json) = authsink(@t, 'list', '--json');
is(scalar(grep { $_->{address} =~ /^198\.51\.100\./ } @{ decode_json($json) }), 0,
    'no entry from any near miss');
kill 'USR1', $d->{pid};
my $dumpfile = "$d->{dir}/authsinkd.dump";
ok(wait_until(sub { -s $dumpfile }), 'SIGUSR1 dump');
my %n = Authsink::slurp($dumpfile) =~ /^(\w+) (\d+)$/mg;
is($n{received}, 9, 'the daemon received exactly the 9 mail messages fed in');
is($n{malformed}, 0, 'none malformed');
is($n{framing_errors}, 0, 'no framing errors');
is($n{matched}, 3, 'exactly the 3 logins matched a rule');

done_testing;
