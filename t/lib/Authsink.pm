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
    in_ci dovecot_login stop_all);

my @daemons;	# everything we started, stopped in END

sub src_dir { abs_path("$FindBin::Bin/..") =~ s{/t$}{}r }
sub build_dir { $ENV{AUTHSINK_BUILD} // src_dir() . '/build' }
sub in_ci { ($ENV{CI} // '') eq 'true' }

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

# start_daemon(listen => [...], extra => "key = value\n", rules => DIR)
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
        exec(build_dir() . '/authsinkd', '-d', '-c', $d->{conf}) or POSIX::_exit(127);
    }
    $d->{pid} = $pid;
    wait_until(sub { -s $d->{pidfile} || waitpid($pid, WNOHANG) == $pid }, 20)
        or die "authsinkd did not start: " . slurp($d->{log});
    die "authsinkd exited: " . slurp($d->{log}) unless -s $d->{pidfile};
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
sub dovecot_login {
    my ($user, $ip, $service) = @_;
    $service //= 'imap';
    return "$service-login: Login: user=<$user>, method=PLAIN, rip=$ip, "
        . "lip=127.0.0.1, mpid=4242, TLS, session=<aBcDeFgH1234>";
}

1;
