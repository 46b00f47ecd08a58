#!/usr/bin/perl
# t/bench/lasthop.pl - what the last hop, a local rsyslog -> authsinkd,
# loses when authsinkd is killed with -9 under load and started again.
#
#   perl t/bench/lasthop.pl [--rounds N] [--rate R] [--only udp,relp] [--build DIR]
#
# Per variant and round: a private rsyslogd (imtcp input on loopback, the
# action under test with a disk-assisted queue retrying forever), a private
# authsinkd, and logger(1) sending R logins/s for 6 s, each from its own
# address; authsinkd is killed with -9 after 2 s and started again 1 s
# later. Then, once nothing arrives for 15 s, the logins missing from the
# table are counted. Loopback only; needs rsyslog (and rsyslog-relp).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Getopt::Long;
use Authsink;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my ($rounds, $rate, $only, $build) = (3, 500, '', undef);
GetOptions('rounds=i' => \$rounds, 'rate=i' => \$rate, 'only=s' => \$only,
    'build=s' => \$build) or die "usage: $0 [--rounds N] [--rate R] [--only LIST] [--build DIR]\n";
$ENV{AUTHSINK_BUILD} = $build if $build;
$SIG{PIPE} = 'IGNORE';
my $logger = need_program('logger', 'bsdutils');
need_program('rsyslogd', 'rsyslog');

my $q = 'queue.type="LinkedList" queue.filename="q" queue.saveOnShutdown="on" '
    . 'action.resumeRetryCount="-1" action.resumeInterval="1"';
my %variant = (
    udp => {
        listen => sub { "udp:127.0.0.1:$_[0]{udp}" },
        action => sub { qq{action(type="omfwd" target="127.0.0.1" port="$_[0]{udp}" }
            . qq{protocol="udp" template="RSYSLOG_SyslogProtocol23Format" $q)} } },
    'unix-dgram' => {
        listen => sub { "unix-dgram:$_[0]{sock}" },
        action => sub { "module(load=\"omuxsock\")\n\$OMUxSockSocket $_[0]{sock}\n"
            . "\$ActionQueueType LinkedList\n\$ActionQueueFileName q\n"
            . "\$ActionQueueSaveOnShutdown on\n\$ActionResumeRetryCount -1\n"
            . "\$ActionResumeInterval 1\n*.* :omuxsock:" } },
    tcp => {
        listen => sub { "tcp:127.0.0.1:$_[0]{tcp}" },
        action => sub { qq{action(type="omfwd" target="127.0.0.1" port="$_[0]{tcp}" }
            . qq{protocol="tcp" TCP_Framing="octet-counted" }
            . qq{template="RSYSLOG_SyslogProtocol23Format" $q)} } },
    relp => {
        listen => sub { "relp:127.0.0.1:$_[0]{tcp}" },
        action => sub { qq{module(load="omrelp")\naction(type="omrelp" target="127.0.0.1" }
            . qq{port="$_[0]{tcp}" template="RSYSLOG_SyslogProtocol23Format" }
            . qq{timeout="10" conn.timeout="5" $q)} } },
);
my @names = $only ? split(/,/, $only) : qw(udp unix-dgram tcp relp);

sub round {
    my ($name, $round) = @_;
    my $v = $variant{$name} or die "unknown variant $name\n";
    my $dir = temp_dir();
    my %p = (udp => free_port(), tcp => free_port(), sock => "$dir/log.sock");
    my $d = start_daemon(dir => $dir, listen => [$v->{listen}->(\%p)],
        extra => "ttl = 1h\n");
    my $feed = free_port();
    mkdir "$dir/rs";
    my $rs = start_rsyslog(dir => "$dir/rs", name => 'rs', conf =>
        qq{global(workDirectory="$dir/rs")\nmodule(load="imtcp")\n}
        . qq{input(type="imtcp" address="127.0.0.1" port="$feed")\n}
        . $v->{action}->(\%p) . "\n",
        ready => sub { tcp_listening($feed) });
    pipe(my $r, my $w) or die;
    my $lpid = fork // die;
    if ($lpid == 0) {
        close $w;
        open STDIN, '<&', $r;
        exec $logger, '--server', '127.0.0.1', '--port', $feed, '--tcp',
            '-p', 'mail.info', '-t', 'dovecot' or POSIX::_exit(127);
    }
    close $r;
    $w->autoflush(1);
    my $n = 6 * $rate;
    my $t0 = time;
    my ($killed, $restarted);
    for my $i (1 .. $n) {
        my $at = $t0 + $i / $rate;
        my $dt = $at - time;
        sleep($dt) if $dt > 0;
        my $a = sprintf('2001:db8:%x::%x', $round, $i);
        print $w "imap-login: Login: user=<u$i>, method=PLAIN, rip=$a, "
            . "lip=127.0.0.1, mpid=$i, TLS, session=<s$i>\n";
        if (!$killed && time - $t0 >= 2) {
            kill 'KILL', $d->{pid};
            waitpid $d->{pid}, 0;
            $killed = time;
        }
        if ($killed && !$restarted && time - $killed >= 1) {
            Authsink::restart_daemon($d);
            $restarted = 1;
        }
    }
    close $w;
    waitpid $lpid, 0;
    # Settled: the table has not grown for 15 s (omrelp's timeout="10"
    # is how long it waits for answers on a connection that went quiet).
    my ($last, $since) = (-1, time);
    my $count = sub {
        my (undef, $out) = authsink('-t', $d->{table}, 'list');
        return scalar(() = $out =~ /^2001:db8:/mg);
    };
    while (time - $since < 15 && time - $t0 < 180) {
        my $c = $count->();
        ($last, $since) = ($c, time) if $c != $last;
        sleep 0.2;
    }
    Authsink::stop_peer($rs);
    Authsink::stop_daemon($d);
    my $lost = $n - $count->();
    if ($lost && $ENV{LASTHOP_KEEP}) {
        my (undef, $out) = authsink('-t', $d->{table}, 'list');
        my %have = map { /^2001:db8:[0-9a-f]+::([0-9a-f]+)/ ? (hex($1) => 1) : () } split /\n/, $out;
        my @miss = grep { !$have{$_} } 1 .. $n;
        system('cp', '-a', $dir, "/tmp/lasthop-$name-$round");
        printf STDERR "# %s round %d: lost %s (kept in /tmp/lasthop-%s-%d)\n", $name, $round,
            join(',', @miss[0 .. ($#miss < 20 ? $#miss : 20)]), $name, $round;
    }
    return $lost;
}

printf "%-11s %s (of %d logins, %d/s, authsinkd killed -9 after 2 s, back 1 s later)\n",
    'last hop', 'lost per round', 6 * $rate, $rate;
for my $name (@names) {
    my @lost = map { round($name, $_) } 1 .. $rounds;
    printf "%-11s %s\n", $name, join(' ', @lost);
}
