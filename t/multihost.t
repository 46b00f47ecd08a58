#!/usr/bin/perl
# Many mail servers, many MTAs (contrib/rsyslog/multihost/): six Linux
# network namespaces built by this test - two mail servers, a relay, two
# MTA hosts and a bridge joining them - each host running its own private
# rsyslog with the shipped configuration, each MTA host its own authsinkd
# and table. Logins logged on the mail servers must reach the tables of
# both MTA hosts, also while links are cut, an MTA's rsyslog restarts,
# an authsinkd restarts and one is killed with -9 under load: after
# recovery no login may be missing on any MTA (ttl 1 h, nothing expires).
# Convergence times are printed (diag), never asserted.
#
# Addresses: 198.18.231.0/24 on the veths inside the namespaces only;
# clients in the log lines come from 2001:db8::/32. Nothing leaves the
# namespaces; the host's network and its rsyslog are not touched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $logger = need_program('logger', 'bsdutils');
my $rsyslogd = need_program('rsyslogd', 'rsyslog');
my $ipcmd = need_program('ip', 'iproute2');
need_peer($> == 0, 'root (the test builds network namespaces)');
need_peer(scalar(grep { -e } map { glob "$_/rsyslog/imrelp.so" }
        '/usr/lib/*-linux-gnu', '/usr/lib', '/usr/lib64'),
    'rsyslog-relp (imrelp/omrelp; apt-get install rsyslog-relp)');

$SIG{PIPE} = 'IGNORE';
$SIG{INT} = $SIG{TERM} = sub { die "interrupted\n" };

my $T = private_dir();
my $build = build_dir();
my $tag = "authsink-mh$$";
my (@netns, @procs);

# ---- cleanup, also when the test dies: our processes, then whatever is
# left in our namespaces, then the namespaces.
sub cleanup {
    Authsink::stop_peer($_) for reverse @procs;
    for my $ns (reverse @netns) {
        my (undef, $pids) = run_cmd($ipcmd, 'netns', 'pids', $ns);
        kill 'KILL', $_ for split ' ', $pids // '';
        system($ipcmd, 'netns', 'del', $ns);
    }
    @netns = ();
}
END { my $rc = $?; cleanup(); $? = $rc; }

# Namespaces of earlier runs that were killed before their END ran.
for (split /\n/, (run_cmd($ipcmd, 'netns', 'list'))[1]) {
    my ($ns) = /^(authsink-mh(\d+)-\S+)/ or next;
    next if kill 0, $2;
    my (undef, $pids) = run_cmd($ipcmd, 'netns', 'pids', $ns);
    kill 'KILL', $_ for split ' ', $pids // '';
    system($ipcmd, 'netns', 'del', $ns);
}

sub ip {
    my ($rc, $out, $err) = run_cmd($ipcmd, @_);
    die "ip @_: $err" if $rc != 0;
    return $out;
}

# ---- the network: a bridge namespace, one veth per host into it.
my %host = (
    ms1 => 1, ms2 => 2, relay => 5, mta1 => 11, mta2 => 12,
);
my %addr = map { $_ => "198.18.231.$host{$_}" } keys %host;
my $br = "$tag-br";
sub ns { "$tag-$_[0]" }
{
    my ($rc, undef, $err) = run_cmd($ipcmd, 'netns', 'add', $br);
    need_peer($rc == 0, "network namespaces (ip netns add: $err)");
    push @netns, $br;
}
ip('-n', $br, 'link', 'add', 'br0', 'type', 'bridge');
ip('-n', $br, 'link', 'set', 'br0', 'up');
for my $h (sort keys %host) {
    my $ns = ns($h);
    ip('netns', 'add', $ns);
    push @netns, $ns;
    ip('-n', $br, 'link', 'add', "p-$h", 'type', 'veth', 'peer', 'name', 'eth0',
        'netns', $ns);
    ip('-n', $br, 'link', 'set', "p-$h", 'master', 'br0', 'up');
    ip('-n', $ns, 'link', 'set', 'lo', 'up');
    ip('-n', $ns, 'addr', 'add', "$addr{$h}/24", 'dev', 'eth0');
    ip('-n', $ns, 'link', 'set', 'eth0', 'up');
}
pass('6 namespaces: ms1, ms2, relay, mta1, mta2 and a bridge');

# ---- processes inside a namespace

sub in_ns { ($ipcmd, 'netns', 'exec', ns($_[0])) }

sub listening_in {
    my ($h, $port) = @_;
    my (undef, $out) = run_cmd(in_ns($h), 'cat', '/proc/net/tcp', '/proc/net/tcp6');
    for (split /\n/, $out) {
        my @c = split;
        return 1 if ($c[1] // '') =~ /:([0-9A-F]{4})$/ && hex($1) == $port
            && $c[3] eq '0A';
    }
    return 0;
}

my %rs;	# host => { conf, dir, peer }
sub rsyslog_conf {
    my ($h, $body) = @_;
    my $dir = "$T/$h";
    mkdir "$dir/work";
    $rs{$h} = { dir => $dir, conf => write_file("$dir/rsyslog.conf",
        qq{global(workDirectory="$dir/work")\n} . $body) };
    my ($rc, $out, $err) = run_cmd($rsyslogd, '-N1', '-f', $rs{$h}{conf});
    die "$h: rsyslogd -N1 rejects the configuration:\n$out$err" if $rc != 0;
}

sub start_rs {
    my ($h, $port) = @_;
    my $r = $rs{$h};
    unlink "$r->{dir}/rsyslog.pid";
    $r->{peer} = start_peer(name => "rsyslogd\@$h", log => "$r->{dir}/rsyslog.log",
        argv => [in_ns($h), $rsyslogd, '-n', '-f', $r->{conf},
            '-i', "$r->{dir}/rsyslog.pid"],
        ready => sub { -s "$r->{dir}/rsyslog.pid" && listening_in($h, $port) },
        timeout => 30);
    push @procs, $r->{peer};
}

sub stop_rs {
    my ($h) = @_;
    my $p = $rs{$h}{peer};
    kill 'TERM', $p->{pid};
    wait_until(sub { waitpid($p->{pid}, WNOHANG) == $p->{pid} }, 20)
        or diag("rsyslogd\@$h did not stop within 20 s");
    Authsink::stop_peer($p);
}

my %sink;	# MTA host => { conf, table, pidfile, peer }
sub start_sink {
    my ($h) = @_;
    my $s = $sink{$h};
    unlink $s->{pidfile};
    $s->{peer} = start_peer(name => "authsinkd\@$h", log => "$s->{dir}/authsinkd.log",
        argv => [in_ns($h), "$build/authsinkd", '-f', '-c', $s->{conf}],
        ready => sub { -s $s->{pidfile} }, timeout => 30);
    push @procs, $s->{peer};
}

# ---- the hosts

my @mtas = qw(mta1 mta2);
my %subst_mtas = ('mta1.example.net' => $addr{mta1}, 'mta2.example.net' => $addr{mta2});

for my $h (@mtas) {
    my $dir = "$T/$h";
    mkdir $dir or die;
    my $s = $sink{$h} = { dir => $dir, table => "$dir/relay.tdb",
        pidfile => "$dir/authsinkd.pid" };
    # The listener rsyslog's mta.conf forwards to, on the namespace's own
    # loopback; the table and everything else in the test's directory.
    $s->{conf} = write_file("$dir/authsink.conf", join '',
        "listen = relp:127.0.0.1:5515\n",
        "table = $s->{table}\n",
        "rules-dir = " . src_dir() . "/rules.d\n",
        "pidfile = $s->{pidfile}\n",
        "dumpfile = $dir/authsinkd.dump\n",
        "ttl = 1h\n");
    start_sink($h);
    rsyslog_conf($h, contrib_text('rsyslog/multihost/mta.conf'));
    start_rs($h, 2514);
}

mkdir "$T/relay" or die;
rsyslog_conf('relay', contrib_text('rsyslog/multihost/relay.conf', %subst_mtas));
start_rs('relay', 2514);

# Mail servers: logger(1) writes into the private rsyslog over TCP on the
# namespace's loopback (imtcp), as a local syslog(3) would into /dev/log.
# ms1 sends to both MTA hosts itself, ms2 through the relay.
my $feed = <<'EOC';
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="10514")
EOC
mkdir "$T/$_" or die for qw(ms1 ms2);
rsyslog_conf('ms1', $feed . contrib_text('rsyslog/multihost/mailserver.conf', %subst_mtas));
rsyslog_conf('ms2', $feed . contrib_text('rsyslog/multihost/mailserver-relay.conf',
    'relay.example.net' => $addr{relay}));
start_rs($_, 10514) for qw(ms1 ms2);

my %gen;	# mail server => { pid, fh }
for my $h (qw(ms1 ms2)) {
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        close $w;
        open STDIN, '<&', $r or POSIX::_exit(126);
        open STDOUT, '>>', "$T/$h/logger.log" or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec(in_ns($h), $logger, '--server', '127.0.0.1', '--port', '10514',
            '--tcp', '-p', 'mail.info', '-t', 'dovecot') or POSIX::_exit(127);
    }
    close $r;
    $w->autoflush(1);
    $gen{$h} = { pid => $pid, fh => $w };
    push @procs, { name => "logger\@$h", pid => $pid };
}
pass('rsyslog on 5 hosts, authsinkd on 2 MTA hosts, logger on 2 mail servers');

# ---- logins, and what the MTA tables show

my (%sent, %phase_of, %seen, %phase_addrs);
my $serial = 0;
my %nphase;

sub login {
    my ($h, $phase) = @_;
    my $n = ++$nphase{$phase};
    my $ms = $h eq 'ms1' ? 1 : 2;
    my $a = sprintf('2001:db8:%x:%x::%x', $ms, $phase_of{$phase} //= 1 + keys %phase_of, $n);
    my $user = "u$ms-$n";
    print { $gen{$h}{fh} } "imap-login: Login: user=<$user>, method=PLAIN, rip=$a, "
        . "lip=$addr{$h}, mpid=" . (1000 + $n) . ", TLS, session=<s$n>\n"
        or die "logger\@$h: $!";
    $sent{$a} = time;
    push @{ $phase_addrs{$phase} }, $a;
}

# Some non-login Dovecot lines between the logins: load, and near misses.
sub noise {
    my ($h) = @_;
    print { $gen{$h}{fh} } "imap(u$h): Disconnected: Logged out in=120 out=3456 "
        . "deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0\n"
        or die "logger\@$h: $!";
}

sub poll_tables {
    for my $m (@mtas) {
        my ($rc, $out) = authsink('-t', $sink{$m}{table}, 'list');
        next if $rc != 0;
        my $now = time;
        for (split /\n/, $out) {
            my ($a) = /^(\S+)/ or next;
            $seen{$m}{$a} //= $now if $sent{$a};
        }
    }
}

sub missing_on {
    my ($m) = @_;
    return grep { !$seen{$m}{$_} } sort keys %sent;
}

# run_schedule([SECONDS, CODE], ...): each CODE at its offset from now;
# the tables are polled whenever nothing is due for a while.
sub run_schedule {
    my @ev = sort { $a->[0] <=> $b->[0] } @_;
    my $t0 = time;
    my $polled = 0;
    while (@ev) {
        my $due = $t0 + $ev[0][0];
        # Poll when idle, and every 200 ms under load (the sends wait).
        if ($due - time > 0.03 || time - $polled > 0.2) {
            poll_tables();
            $polled = time;
            next if $due - time > 0.03;
        }
        my $dt = $due - time;
        sleep($dt) if $dt > 0;
        (shift @ev)->[1]->();
    }
}

# logins_every(PHASE, FROM, TO, PER_SECOND): events for both mail servers.
sub logins_every {
    my ($phase, $from, $to, $rate) = @_;
    my @ev;
    for (my $t = $from; $t < $to; $t += 1 / $rate) {
        push @ev, [$t, sub { login('ms1', $phase) }],
            [$t + 0.5 / $rate, sub { login('ms2', $phase) }];
    }
    return @ev;
}

sub wait_converged {
    my ($timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        poll_tables();
        return 1 unless grep { missing_on($_) } @mtas;
        sleep 0.05;
    }
    return 0;
}

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p / 100 * $#v + 0.5)];
}

sub converge_times {
    my ($phase) = @_;
    return map {
        my $ad = $_;
        my @t = map { $seen{$_}{$ad} } @mtas;
        (grep { !defined } @t) ? () : ((sort { $b <=> $a } @t)[0] - $sent{$ad});
    } @{ $phase_addrs{$phase} };
}

sub report {
    my ($phase) = @_;
    my @c = converge_times($phase);
    return diag("$phase: no login converged") unless @c;
    diag(sprintf "%-14s %4d logins, login -> on both MTAs: p50 %.0f ms, p99 %.0f ms, max %.0f ms",
        $phase, scalar @c, 1000 * pct(50, @c), 1000 * pct(99, @c), 1000 * pct(100, @c));
}

# The first messages open the RELP sessions; let them settle.
login($_, 'warm-up') for qw(ms1 ms2);
ok(wait_converged(60), 'first logins of both mail servers reach both MTA tables')
    or diag("missing: " . join(' ', map { "$_: @{[missing_on($_)]}" } @mtas));

# 1. Idle: one login every 100 ms per mail server.
run_schedule(logins_every('idle', 0, 5, 10));
ok(wait_converged(30), 'idle: every login on both MTAs');

# 2. Links cut: ms1's port on the bridge for 4 s, then the relay's, then
# mta2's, while logins go on (20/s per mail server).
my %cut;
sub link_set { my ($h, $st) = @_; ip('-n', $br, 'link', 'set', "p-$h", $st); }
run_schedule(logins_every('links-cut', 0, 15, 20),
    [1, sub { link_set('ms1', 'down') }], [5, sub { link_set('ms1', 'up') }],
    [5.5, sub { link_set('relay', 'down') }], [9.5, sub { link_set('relay', 'up') }],
    [10, sub { link_set('mta2', 'down') }], [14, sub { link_set('mta2', 'up') }]);
ok(wait_converged(60), 'links cut for 4 s each (ms1, relay, mta2): nothing lost');

# 3. mta1's rsyslog stopped (TERM) for 2 s, then started again, the relay's too.
run_schedule(logins_every('rsyslog-restart', 0, 10, 20),
    [1, sub { stop_rs('mta1') }], [3, sub { start_rs('mta1', 2514) }],
    [5, sub { stop_rs('relay') }], [7, sub { start_rs('relay', 2514) }]);
ok(wait_converged(60), 'rsyslog restarted on mta1 and on the relay: nothing lost');

# 4. mta2's authsinkd stopped (TERM) for 2 s, then started again.
run_schedule(logins_every('sink-restart', 0, 6, 20),
    [1, sub { Authsink::stop_peer($sink{mta2}{peer}) }], [3, sub { start_sink('mta2') }]);
ok(wait_converged(60), 'authsinkd restarted on mta2: nothing lost');

# 5. Under load (200 logins/s and 200 other lines/s per mail server),
# mta1's authsinkd is killed with -9 and started again 1 s later.
my @load;
for (my $t = 0; $t < 6; $t += 0.02) {
    push @load, [$t, sub {
        for my $i (1 .. 4) { for (qw(ms1 ms2)) { login($_, "kill-9"); noise($_) } }
    }];
}
run_schedule(@load,
    [2, sub { kill 'KILL', $sink{mta1}{peer}{pid}; Authsink::stop_peer($sink{mta1}{peer}) }],
    [3, sub { start_sink('mta1') }]);
ok(wait_converged(90), 'authsinkd killed with -9 under load on mta1: nothing lost');

for my $m (@mtas) {
    my @miss = missing_on($m);
    is(scalar @miss, 0, "$m: 0 of " . scalar(keys %sent) . ' logins lost')
        or diag("$m misses " . scalar(@miss) . ": @miss[0 .. ($#miss < 9 ? $#miss : 9)]");
}
for my $m (@mtas) {
    my ($rc, $out) = run_cmd('tdbtool', $sink{$m}{table}, 'check');
    like($out, qr/Database integrity is OK/, "$m: tdbtool check accepts the table")
        if -x '/usr/bin/tdbtool';
    my ($src, $stats) = authsink('-t', $sink{$m}{table}, 'list');
    my $n = () = $stats =~ /^2001:db8:/mg;
    is($n, scalar(keys %sent), "$m: the table holds exactly the logins sent, no others");
}

report($_) for 'idle', 'links-cut', 'rsyslog-restart', 'sink-restart', 'kill-9';

# Stopped cleanly, and (make asan) no sanitizer report in their logs.
for my $m (@mtas) {
    my $status = Authsink::stop_peer($sink{$m}{peer});
    is($status, 0, "$m: authsinkd exits 0 on SIGTERM");
    unlike(Authsink::slurp("$sink{$m}{dir}/authsinkd.log"),
        qr/AddressSanitizer|LeakSanitizer|runtime error:/, "$m: no sanitizer report");
}
done_testing;
