# Authsink.pm - what every end-to-end test needs: a temp dir, free
# loopback ports, a private authsinkd, the authsink helper, and cleanup
# that runs even when a test dies.
package Authsink;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Cwd qw(abs_path);
use FindBin;

our @EXPORT = qw(build_dir src_dir temp_dir free_port start_daemon authsink
    wait_until send_udp send_tcp send_unix_dgram run_cmd need_program
    in_ci dovecot_login dovecot_line unix_stream stop_all relayed table_entry counter);

my @daemons;	# everything we started, stopped in END

sub src_dir { abs_path("$FindBin::Bin/..") =~ s{/t$}{}r }
sub build_dir { $ENV{AUTHSINK_BUILD} // src_dir() . '/build' }
sub in_ci { ($ENV{CI} // '') eq 'true' }
# The binaries are built with ASan (make asan): RSS and valgrind say
# nothing about the program then (shadow memory, quarantine).
sub sanitized { slurp(build_dir() . '/authsinkd') =~ /__asan_init|__tsan_init|__msan_init/ }

sub temp_dir { tempdir('authsink-test-XXXXXX', TMPDIR => 1, CLEANUP => 1) }

# A port nobody uses right now on 127.0.0.1 for both UDP and TCP.
sub free_port {
    for (1 .. 50) {
        my $t = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1) or next;
        my $port = $t->sockport;
        my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => 'udp') or next;
        close $t; close $u;
        return $port;
    }
    die "no free port";
}

# Skip (or, in CI, fail) when a real peer is missing.
sub need_program {
    my ($prog, $pkg) = @_;
    for my $d (split /:/, "$ENV{PATH}:/usr/sbin:/sbin") {
        return "$d/$prog" if -x "$d/$prog";
    }
    if (in_ci()) {
        Test::More::BAIL_OUT("$prog (package $pkg) is required in CI");
    }
    Test::More::plan(skip_all => "$prog not installed (apt-get install $pkg)");
}

sub wait_until {
    my ($cond, $timeout) = @_;
    $timeout //= 10;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return $cond->();
}

# run_cmd(@argv) -> (exit status, stdout, stderr)
sub run_cmd {
    my @argv = @_;
    my $dir = temp_dir();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/out";
        open STDERR, '>', "$dir/err";
        exec @argv or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    local $/;
    open my $o, '<', "$dir/out"; my $out = <$o> // '';
    open my $e, '<', "$dir/err"; my $err = <$e> // '';
    return ($rc, $out, $err);
}

sub authsink { run_cmd(build_dir() . '/authsink', @_) }

# start_daemon(listen => [...], extra => "key = value\n", rules => DIR,
#     wrap => [COMMAND...], start_timeout => SECONDS, no_start => 1)
# Returns a hash: dir conf table pidfile sock udp tcp log pid.
sub start_daemon {
    my %o = @_;
    my $dir = $o{dir} // temp_dir();
    my $d = { dir => $dir, table => "$dir/relay.tdb", pidfile => "$dir/authsinkd.pid",
        conf => "$dir/authsink.conf", log => "$dir/authsinkd.log",
        sock => "$dir/log.sock", stream => "$dir/log.stream" };
    $d->{udp} = $o{udp} // free_port();
    $d->{tcp} = $o{tcp} // free_port();
    my @listen = @{ $o{listen} // ["udp:127.0.0.1:$d->{udp}",
        "tcp:127.0.0.1:$d->{tcp}", "unix-dgram:$d->{sock}", "unix:$d->{stream}"] };
    my $rules = $o{rules} // src_dir() . '/rules.d';
    open my $c, '>', $d->{conf} or die;
    print $c "listen = $_\n" for @listen;
    print $c "table = $d->{table}\nrules-dir = $rules\npidfile = $d->{pidfile}\n",
        "dumpfile = $dir/authsinkd.dump\n", $o{extra} // '';
    close $c;
    $d->{wrap} = $o{wrap} if $o{wrap};
    $d->{start_timeout} = $o{start_timeout} if $o{start_timeout};
    restart_daemon($d) unless $o{no_start};
    push @daemons, $d;
    return $d;
}

sub restart_daemon {
    my ($d) = @_;
    unlink $d->{pidfile};
    my $pid = fork // die;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $d->{log};
        open STDERR, '>>', $d->{log};
        # wrap: a command prefix, e.g. unshare for a private mount namespace.
        exec(@{ $d->{wrap} // [] }, build_dir() . '/authsinkd', '-d', '-c', $d->{conf})
            or POSIX::_exit(127);
    }
    $d->{pid} = $pid;
    wait_until(sub { -s $d->{pidfile} || waitpid($pid, WNOHANG) == $pid },
        $d->{start_timeout} // 20)
        or die "authsinkd did not start: " . slurp($d->{log});
    die "authsinkd exited: " . slurp($d->{log}) unless -s $d->{pidfile};
    return $d;
}

# start_daemon_small_disk(listen => [...], extra => TEXT): a daemon whose
# table is on an 8 MiB tmpfs in its own mount namespace (root only), for
# full-disk tests. $d->{small} is that directory and $d->{ns} the command
# prefix that sees it (nsenter into the daemon's namespace).
sub start_daemon_small_disk {
    my (%o) = @_;
    need_program('unshare', 'util-linux');
    my $dir = temp_dir();
    my $small = "$dir/small";
    mkdir $small or die "$small: $!";
    my $d = start_daemon(dir => $dir, no_start => 1, listen => $o{listen},
        extra => "table = $small/relay.tdb\ncommit-interval = 20ms\n" . ($o{extra} // ''),
        wrap => ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
            "mount -t tmpfs -o size=8m tmpfs $small && exec \"\$0\" \"\$@\""]);
    # The config's second table line wins.
    $d->{table} = "$small/relay.tdb";
    $d->{small} = $small;
    restart_daemon($d);
    $d->{ns} = ['nsenter', '-t', $d->{pid}, '-m'];
    return $d;
}

sub stop_daemon {
    my ($d, $sig) = @_;
    return unless $d->{pid};
    kill $sig // 'TERM', $d->{pid};
    my $ok = wait_until(sub { waitpid($d->{pid}, WNOHANG) == $d->{pid} }, 10);
    unless ($ok) { kill 'KILL', $d->{pid}; waitpid $d->{pid}, 0; }
    my $status = $?;
    delete $d->{pid};
    return $status;
}

# relayed($d, ADDR): does `authsink check` answer yes for the daemon's table?
sub relayed { my ($d, $addr) = @_; (authsink('-t', $d->{table}, 'check', $addr))[0] == 0 }

# table_entry($d, ADDR): the live entry as `authsink list --json` shows it.
sub table_entry {
    my ($d, $addr) = @_;
    require JSON::PP;
    my ($rc, $json) = authsink('-t', $d->{table}, 'list', '--json');
    return undef if $rc != 0;
    my ($e) = grep { $_->{address} eq $addr } @{ JSON::PP::decode_json($json) };
    return $e;
}

# counter($d, NAME): one counter from a fresh SIGUSR1 dump (-1 if none).
sub counter {
    my ($d, $name, $timeout) = @_;
    my $dump = "$d->{dir}/authsinkd.dump";
    unlink $dump;
    kill 'USR1', $d->{pid};
    wait_until(sub { -s $dump }, $timeout // 5);
    return (slurp($dump) =~ /^$name (\d+)$/m)[0] // -1;
}

sub slurp { my ($f) = @_; local $/; open my $h, '<', $f or return ''; <$h> // '' }

sub stop_all { stop_daemon($_) for @daemons }
END { my $rc = $?; stop_all(); $? = $rc; }

sub send_udp {
    my ($port, $msg, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host // '127.0.0.1',
        PeerPort => $port, Proto => 'udp') or die "udp: $!";
    $s->send($msg) or die "send: $!";
}

sub send_tcp {
    my ($port, $bytes, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host // '127.0.0.1',
        PeerPort => $port, Proto => 'tcp') or die "tcp: $!";
    print $s $bytes;
    close $s;
}

sub send_unix_dgram {
    my ($path, $msg) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Peer => $path)
        or die "unix-dgram $path: $!";
    $s->send($msg) or die "send: $!";
}

# A Dovecot 2.x login line as Dovecot writes it (msg part only).
# (without session=<>: a plain login, allowed for ttl; t/sessions.t and
# t/peer-dovecot-session.t drive sessions)
sub dovecot_login {
    my ($user, $ip, $service) = @_;
    $service //= 'imap';
    return "$service-login: Login: user=<$user>, method=PLAIN, rip=$ip, "
        . "lip=127.0.0.1, mpid=4242, TLS";
}

# dovecot_line(USER, ADDR): that login as an RFC 5424 message from host mx.
sub dovecot_line { "<38>1 - mx dovecot - - - " . dovecot_login(@_) }

# unix_stream($d): a connection to the daemon's UNIX stream listener.
sub unix_stream {
    my ($d) = @_;
    return IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $d->{stream})
        // die "connect $d->{stream}: $!";
}

# ---------------------------------------------------------------------
# Real peers (t/peer-*.t): rsyslog, syslog-ng, Dovecot, Exim, tdb tools.
# Every peer is a private instance started here and stopped in END (in
# the process that started it), also when a test dies.

push @EXPORT, qw(need_peer hold_table peer_syslog_ng start_peer stop_peer
    start_rsyslog start_syslog_ng syslog_ng_version contrib_text
    write_file udp_bound tcp_listening private_dir);

my @peers;
my $peers_owner = $$;

# hold_table(TABLE, HOW, SECONDS): a python3-tdb writer that, for SECONDS,
# holds TABLE locked (HOW 'lock_all': authsinkd stuck inside a commit) or
# stays between prepare and commit of a transaction (HOW 'commit': tdb
# refuses read-only opens meanwhile). Returns once it holds it, with its
# pid; waitpid on it.
sub hold_table {
    my ($table, $how, $seconds) = @_;
    my %py = (
        lock_all => "t.lock_all()\nready()\ntime.sleep(S)\nt.unlock_all()\n",
        commit => "t.transaction_start()\n"
            . "t.store(b'198.51.100.250', b'expires=1 first=1 last=1 count=1 rule=test')\n"
            . "t.transaction_prepare_commit()\nready()\ntime.sleep(S)\n"
            . "t.transaction_commit()\n");
    my $code = "import os, sys, time, tdb\n"
        . "t = tdb.Tdb(sys.argv[1], 0, tdb.DEFAULT, os.O_RDWR)\n"
        . "def ready(): open(sys.argv[2], 'w').close()\n"
        . ($py{$how} // die "hold_table: $how") =~ s/\bS\b/$seconds/r;
    my $ready = temp_dir() . '/holding';
    my $pid = fork // die;
    if ($pid == 0) {
        exec '/usr/bin/python3', '-c', $code, $table, $ready or POSIX::_exit(127);
    }
    wait_until(sub { -e $ready || waitpid($pid, WNOHANG) == $pid }, 10) && -e $ready
        or die "hold_table: the python3-tdb writer did not get the table";
    return $pid;
}

# need_peer(COND, WHAT): skip (or in CI bail out) unless COND holds.
sub need_peer {
    my ($ok, $what) = @_;
    return 1 if $ok;
    Test::More::BAIL_OUT("$what is required in CI") if in_ci();
    Test::More::plan(skip_all => "$what is missing");
}

# A temp dir other users may traverse: Dovecot's and Exim's unprivileged
# processes read files in it.
sub private_dir {
    my $dir = temp_dir();
    chmod 0755, $dir;
    return $dir;
}

sub write_file {
    my ($path, $text, $mode) = @_;
    open my $f, '>', $path or die "$path: $!";
    print $f $text;
    close $f or die "$path: $!";
    chmod $mode, $path if defined $mode;
    return $path;
}

# contrib_text("rsyslog/authsink-udp.conf", FROM => TO, ...): a shipped
# snippet with literal substitutions (ports, paths). Every FROM must occur,
# so a changed snippet fails the test instead of being silently ignored.
sub contrib_text {
    my ($rel, @subst) = @_;
    my $path = src_dir() . "/contrib/$rel";
    my $text = slurp($path);
    die "$path: missing or empty\n" if $text eq '';
    while (my ($from, $to) = splice @subst, 0, 2) {
        my $n = () = $text =~ /\Q$from\E/g;
        die "$path: \"$from\" not found\n" unless $n;
        $text =~ s/\Q$from\E/$to/g;
    }
    return $text;
}

# start_peer(name => N, argv => [...], log => FILE, env => {...},
#            ready => sub {...}, timeout => S)
# The peer gets its own process group so that stop_peer also reaps the
# children it forked (Dovecot's). Dies (with the log) if it exits early or
# `ready` does not turn true.
sub start_peer {
    my %o = @_;
    my $p = { name => $o{name} // $o{argv}[0], log => $o{log}, argv => $o{argv} };
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $o{log} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        %ENV = (%ENV, %{ $o{env} // {} });
        exec { $o{argv}[0] } @{ $o{argv} } or POSIX::_exit(127);
    }
    $p->{pid} = $pid;
    push @peers, $p;
    my $ready = $o{ready} // sub { 1 };
    my $exited;
    my $ok = wait_until(sub {
        if (waitpid($pid, WNOHANG) == $pid) { $exited = $?; return 1 }
        $ready->() }, $o{timeout} // 20);
    if (defined $exited) {
        delete $p->{pid};
        die "$p->{name} exited (status $exited): " . slurp($o{log});
    }
    die "$p->{name} not ready: " . slurp($o{log}) unless $ok;
    return $p;
}

# SIGTERM the peer's process group, KILL what is left after 10 s.
sub stop_peer {
    my ($p) = @_;
    return unless $p->{pid};
    my $pid = delete $p->{pid};
    kill 'TERM', -$pid;
    my $ok = wait_until(sub { waitpid($pid, WNOHANG) == $pid }, 10);
    my $status = $?;
    kill 'KILL', -$pid;
    unless ($ok) { waitpid $pid, 0; $status = $?; }
    return $status;
}

END {
    if ($$ == $peers_owner) {
        my $rc = $?;
        stop_peer($_) for reverse @peers;
        $? = $rc;
    }
}

# Is something bound to local UDP port P / listening on TCP port P?
sub _proc_net {
    my ($port, $want_listen, @files) = @_;
    for my $f (@files) {
        open my $h, '<', $f or next;
        while (<$h>) {
            my @c = split;
            next unless ($c[1] // '') =~ /:([0-9A-F]{4})$/ && hex($1) == $port;
            return 1 if !$want_listen || $c[3] eq '0A';
        }
    }
    return 0;
}
sub udp_bound { _proc_net($_[0], 0, '/proc/net/udp', '/proc/net/udp6') }
sub tcp_listening { _proc_net($_[0], 1, '/proc/net/tcp', '/proc/net/tcp6') }

# start_rsyslog(dir => D, conf => TEXT, ready => sub {...}, name => N):
# checks the configuration with -N1, then runs rsyslogd in the foreground
# with an absolute pid file (a relative one fails).
sub start_rsyslog {
    my %o = @_;
    my $rsyslogd = need_program('rsyslogd', 'rsyslog');
    my $name = $o{name} // 'rsyslog';
    my $conf = write_file("$o{dir}/$name.conf", $o{conf});
    my ($rc, $out, $err) = run_cmd($rsyslogd, '-N1', '-f', $conf);
    die "$conf rejected by rsyslogd -N1:\n$out$err" if $rc != 0;
    my $pidfile = "$o{dir}/$name.pid";
    my $ready = $o{ready} // sub { 1 };
    return start_peer(name => $name, log => "$o{dir}/$name.log",
        argv => [$rsyslogd, '-n', '-f', $conf, '-i', $pidfile],
        ready => sub { -s $pidfile && $ready->() });
}

# syslog-ng conflicts with rsyslog as a package, so .ci/deps unpacks it
# privately; a system-wide one is used when there is no private copy.
sub peer_syslog_ng {
    my @cand = ((map { "$_/syslog-ng/bin/syslog-ng" }
            grep { defined } $ENV{AUTHSINK_PEERS}, '/opt/authsink-peers'),
        map { "$_/syslog-ng" } split(/:/, $ENV{PATH}), '/usr/sbin', '/sbin');
    for my $c (@cand) {
        return $c if -x $c && (run_cmd($c, '--version'))[0] == 0;
    }
    need_peer(0, 'syslog-ng (as root: sh .ci/deps peers, which unpacks '
        . 'syslog-ng-core into /opt/authsink-peers)');
}

sub syslog_ng_version {
    my ($sng) = @_;
    my (undef, $out) = run_cmd($sng, '--version');
    return $out =~ /^Installer-Version:\s*(\d+\.\d+)/m ? $1
         : $out =~ /^syslog-ng \d+ \((\d+\.\d+)/m ? $1 : die "syslog-ng --version: $out";
}

# start_syslog_ng(dir => D, conf => TEXT (without @version), name => N,
#                 ready => sub {...})
sub start_syslog_ng {
    my %o = @_;
    my $sng = $o{syslog_ng} // peer_syslog_ng();
    my $name = $o{name} // 'syslog-ng';
    my $d = $o{dir};
    my $conf = write_file("$d/$name.conf",
        '@version: ' . syslog_ng_version($sng) . "\n" . $o{conf});
    my @common = ('-f', $conf, '-R', "$d/$name.persist", '-p', "$d/$name.pid",
        '-c', "$d/$name.ctl");
    my ($rc, $out, $err) = run_cmd($sng, '--syntax-only', @common);
    die "$conf rejected by syslog-ng --syntax-only:\n$out$err" if $rc != 0;
    my $ready = $o{ready} // sub { 1 };
    return start_peer(name => $name, log => "$d/$name.log",
        argv => [$sng, '-F', '-e', '--no-caps', @common],
        ready => sub { -s "$d/$name.pid" && $ready->() });
}

1;
