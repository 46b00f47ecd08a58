#!/usr/bin/perl
# bench.pl - `make bench`: authsink measured side by side with its peers in
# one run, on this machine, loopback only.
#
#   perl t/bench/bench.pl [--build DIR] [--quick] [--only LIST]
#                         [--pop-before-smtp FILE]
#
# Sections (--only takes a comma list of them):
#   udp      load generator -> bare recvmmsg sink (the ceiling), rsyslog
#            imudp (discarding), authsinkd (shipped rules), offered 50k,
#            100k, 200k, 400k msg/s and as fast as the generator can
#   tcp      the same over TCP, RFC 6587 octet counting (rsyslog imtcp)
#   replay   the rules path alone: lines/s per CPU second (t/bench/replay.c
#            and `authsink test -q`)
#   rules    loading the shipped rule files: microseconds per rule
#            (t/bench/rules-load.pl)
#   latency  login sent -> address visible in the table, p50/p99/max, idle
#            and under 50k msg/s; beside it, through rsyslog writing a log
#            file, pop-before-smtp 1.42 (if given) and a tail -F | perl
#            -> DB_File tailer reading that file
#   readers  `authsink check` per process, in-process relay_lookup_live()
#            per second, idle and while the daemon takes 10k logins/s
#   serve    `authsink serve` queries/s (line, policy and socketmap over a
#            persistent UNIX connection, line with a connection per query
#            as Exim ${readsocket} does) beside `authsink check` per
#            process, on one 10k-entry table, idle and while the daemon
#            takes 10k logins/s
#   scale    1 M live entries: table size, sweep time, daemon RSS
#   changes  each performance change of the product against the tree
#            without it, built here from git (UDP receive buffer, mktime
#            cache)
# Results: a table on stdout, DIR/bench/results.json, and, with gnuplot,
# DIR/bench/results.png. Nothing is installed: what is missing is named
# with the package to install, and its part is skipped.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Getopt::Long;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h setsid);
use Time::HiRes qw(time sleep);
require Time::HiRes;

my $src = abs_path(dirname(__FILE__) . '/../..');
my $build = "$src/build";
my ($quick, $only, $pbs) = (0, '', $ENV{POP_BEFORE_SMTP});
GetOptions('build=s' => \$build, 'quick' => \$quick, 'only=s' => \$only,
    'pop-before-smtp=s' => \$pbs) or die "usage: bench.pl [--build DIR] [--quick] [--only LIST] [--pop-before-smtp FILE]\n";
$build = abs_path($build);
my $bin = "$build/bench";
my $out = "$build/bench";
my %only = map { $_ => 1 } grep { length } split /,/, $only;
sub want { !%only || $only{$_[0]} }

my $T = tempdir('authsink-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $t_begin = time;
my %R = (version => 1);		# everything that goes to results.json
my @missing;			# what was skipped, and how to get it
my $CLK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my $RCVBUF = 4 << 20;		# every UDP receiver gets the same buffer
$| = 1;

# ---------------------------------------------------------------------
# Processes: each in its own session, so a pipeline dies as a whole.

my %procs;	# pid => name
sub start_proc {
    my ($name, $argv, %o) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $o{out} // "$T/$name.out";
        open STDERR, '>>', $o{err} // "$T/$name.err";
        $ENV{$_} = $o{env}{$_} for keys %{$o{env} // {}};
        exec @$argv or POSIX::_exit(127);
    }
    $procs{$pid} = $name;
    return $pid;
}

sub stop_proc {
    my ($pid, $sig) = @_;
    return unless $pid && $procs{$pid};
    kill $sig // 'TERM', -$pid;
    my $end = time + 10;
    while (time < $end) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    if (kill 0, $pid) {
        kill 'KILL', -$pid;
        waitpid $pid, 0;
    }
    kill 'KILL', -$pid;		# whatever is left of its group
    delete $procs{$pid};
}

END {
    my $status = $?;
    stop_proc($_) for keys %procs;
    $? = $status;
}
$SIG{INT} = $SIG{TERM} = sub { die "interrupted\n" };

sub run_out {	# run a command, return its stdout (dies on failure)
    my @argv = @_;
    open my $fh, '-|', @argv or die "$argv[0]: $!";
    local $/;
    my $s = <$fh> // '';
    close $fh or die "$argv[0] failed: $s\n";
    return $s;
}

sub slurp { my $f = shift; open my $h, '<', $f or return ''; local $/; <$h> // '' }
sub spew { my ($f, $s) = @_; open my $h, '>', $f or die "$f: $!"; print $h $s; close $h }
sub wait_for { my ($cond, $t) = @_; my $end = time + ($t // 10);
    while (time < $end) { my $v = $cond->(); return $v if $v; sleep 0.01 } return $cond->() }

sub free_port {
    for (1 .. 50) {
        my $t = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1) or next;
        my $port = $t->sockport;
        my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => 'udp') or next;
        return $port;
    }
    die "no free port";
}

sub cpu_s {	# user+system seconds of a process, all its threads
    my @f = split ' ', (slurp("/proc/$_[0]/stat") =~ s/^.*\) //sr);
    return @f ? ($f[11] + $f[12]) / $CLK : 0;
}

sub have_prog {
    my $p = shift;
    for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin') {
        return "$d/$p" if -x "$d/$p";
    }
    return undef;
}

sub have_perl_mod { system($^X, "-M$_[0]", '-e1') == 0 }

sub need {
    my ($what, $hint) = @_;
    push @missing, "$what: $hint";
    print "  skipped: $what ($hint)\n";
}

# ---------------------------------------------------------------------
# The machine.

sub machine {
    my $cpuinfo = slurp('/proc/cpuinfo');
    my ($model) = $cpuinfo =~ /^model name\s*:\s*(.*)$/m;
    my ($mem) = slurp('/proc/meminfo') =~ /^MemTotal:\s*(\d+)/m;
    my ($load) = split ' ', slurp('/proc/loadavg');
    chomp(my $nproc = `nproc 2>/dev/null` || '?');
    chomp(my $kernel = `uname -sr`);
    return { nproc => $nproc + 0, cpu => $model // '?', kernel => $kernel,
        mem_gib => sprintf('%.1f', ($mem // 0) / 1048576) + 0,
        loadavg_before => $load + 0, date => scalar gmtime() . ' UTC' };
}

# ---------------------------------------------------------------------
# Receivers. Each: pid, ports, and count(proto) = messages it received so
# far (cumulative), settled: call it after the load has stopped.

sub sink_receiver {
    my ($proto) = @_;
    my $port = free_port();
    my $file = "$T/sink-$proto.count";
    my $pid = start_proc("sink-$proto", [ "$bin/sink", $proto eq 'udp' ? '-u' : '-t',
        '-p', $port, '-o', $file, ($proto eq 'udp' ? ('-b', $RCVBUF) : ()) ]);
    wait_for(sub { -e $file }, 5) or die "sink did not start: " . slurp("$T/sink-$proto.err");
    my $read = sub {
        unlink $file;
        kill 'USR1', $pid;
        wait_for(sub { -e $file }, 10);
        my ($n) = slurp($file) =~ /received (\d+)/;
        return $n // die "sink: no count";
    };
    return { name => 'sink', pid => $pid, port => { $proto => $port },
        count => sub { settle($read) } };
}

# Read a counter until two reads 150 ms apart agree.
sub settle {
    my ($read) = @_;
    my $v = $read->();
    for (1 .. 100) {
        sleep 0.15;
        my $w = $read->();
        return $w if $w == $v;
        $v = $w;
    }
    return $v;
}

sub authsinkd_receiver {
    my (%o) = @_;
    my $name = $o{name} // 'authsinkd';
    my $dir = "$T/$name";
    mkdir $dir;
    my ($udp, $tcp) = (free_port(), free_port());
    my $conf = "listen = udp:127.0.0.1:$udp\nlisten = tcp:127.0.0.1:$tcp\n"
        . "table = $dir/relay.tdb\nrules-dir = $src/rules.d\n"
        . "pidfile = $dir/authsinkd.pid\ndumpfile = $dir/authsinkd.dump\n";
    spew("$dir/authsink.conf", $conf);
    my $pid = start_proc($name, [ $o{bin} // "$build/authsinkd", '-f', '-c', "$dir/authsink.conf" ]);
    wait_for(sub { -s "$dir/authsinkd.pid" }, 10)
        or die "$name did not start: " . slurp("$T/$name.err");
    my $d = { name => 'authsinkd', pid => $pid, dir => $dir, table => "$dir/relay.tdb",
        port => { udp => $udp, tcp => $tcp } };
    $d->{dump} = sub { dump_counters($d) };
    $d->{log} = "$T/$name.err";
    $d->{counters} = sub { log_counters($d) };
    $d->{count} = sub { settle(sub { $d->{counters}->()->{received} }) };
    return $d;
}

# The counters line authsinkd logs on SIGUSR1 before it writes the dump
# file (which counts the live entries, a traversal of the whole table).
sub log_counters {
    my ($d) = @_;
    my $off = -s $d->{log} // 0;
    kill 'USR1', $d->{pid};
    my %c;
    wait_for(sub {
        my $new = substr(slurp($d->{log}), $off);
        return 0 unless $new =~ /^authsinkd: (received \d+.*)$/m;
        %c = $1 =~ /(\w+) (\d+)/g;
        return 1;
    }, 60) or die "authsinkd logged no counters";
    return \%c;
}

sub dump_counters {
    my ($d) = @_;
    my $f = "$d->{dir}/authsinkd.dump";
    unlink $f;
    kill 'USR1', $d->{pid};
    wait_for(sub { -s $f }, 60) or die "authsinkd wrote no dump file";
    my %c = slurp($f) =~ /^(\w+) (\d+)$/mg;
    return \%c;
}

sub rsyslog_receiver {
    my $dir = "$T/rsyslog";
    mkdir $dir;
    my ($udp, $tcp) = (free_port(), free_port());
    # Parse with the default parsers, then discard: rsyslog needs one
    # action somewhere, so an unused ruleset has it.
    spew("$dir/rsyslog.conf", <<"EOF");
global(workDirectory="$dir")
module(load="impstats" interval="1" format="json" log.file="$dir/stats.json" log.syslog="off")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="$udp" rcvbufSize="$RCVBUF")
input(type="imtcp" address="127.0.0.1" port="$tcp")
ruleset(name="unused") { action(type="omfile" file="/dev/null") }
*.* stop
EOF
    my $pid = start_proc('rsyslogd', [ have_prog('rsyslogd'), '-n', '-f', "$dir/rsyslog.conf",
        '-i', "$dir/rsyslog.pid" ]);
    wait_for(sub { -s "$dir/stats.json" }, 10)
        or die "rsyslogd did not start: " . slurp("$T/rsyslogd.err");
    my $st = { pos => 0, partial => '' };
    my $r = { name => 'rsyslog', pid => $pid, port => { udp => $udp, tcp => $tcp } };
    # impstats writes every counter once a second, each line stamped to
    # the second: the value is final in a line stamped after the load
    # ended (plus a margin).
    my %mon;
    @mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);
    my $stamp = sub {
        my ($m, $d, $H, $M, $S, $y) = $_[0] =~ /^\w+ (\w+) +(\d+) (\d+):(\d+):(\d+) (\d+):/ or return 0;
        return POSIX::mktime($S, $M, $H, $d, $mon{$m}, $y - 1900, 0, 0, -1);
    };
    $r->{count_after} = sub {
        my ($proto, $after) = @_;
        $after = int($after) + 1;
        my $key = $proto eq 'udp' ? 'imudp(w0)' : "imtcp($tcp)";
        my $field = $proto eq 'udp' ? 'msgs.received' : 'submitted';
        my $end = time + 15;
        while (time < $end) {
            my $data = slurp("$dir/stats.json");
            my $new = $st->{partial} . substr($data, $st->{pos});
            $st->{pos} = length $data;
            my @lines = split /\n/, $new, -1;
            $st->{partial} = pop(@lines) // "";
            for (@lines) {
                next unless /^[^{]*(\{.*\})\s*$/;
                my $j = eval { decode_json($1) } or next;
                next unless ($j->{name} // '') eq $key;
                return $j->{$field} if $stamp->($_) >= $after;
            }
            sleep 0.05;
        }
        die "rsyslogd: no impstats line for $key";
    };
    return $r;
}

# ---------------------------------------------------------------------
# Ingest: one offered rate against one receiver.

# Login addresses: the throughput runs cycle over the same DISTINCT
# addresses (clients of a large site logging in again and again); every
# other run gets new ones above them.
my $DISTINCT = 50000;
my $addr_next = 1 + $DISTINCT;
sub loadgen {
    my (%o) = @_;
    my $base = $o{distinct} ? 1 : $addr_next;
    $addr_next += int(($o{n} // ($o{rate} || 1e6) * $o{secs}) * ($o{logins} // 5) / 100) + 1000
        unless $o{distinct};
    my @argv = ("$bin/loadgen", $o{proto} eq 'udp' ? '-u' : '-t', '-p', $o{port},
        '-r', $o{rate}, '-a', $base, '-l', $o{logins} // 5,
        $o{distinct} ? ('-m', $o{distinct}) : (),
        $o{n} ? ('-n', $o{n}) : ('-d', $o{secs}));
    return (\@argv, $base);
}

sub parse_loadgen {
    my %h = $_[0] =~ /(\w+) ([\d.]+)/g;
    die "loadgen: $_[0]" unless defined $h{sent};
    return \%h;
}

sub ingest_point {
    my ($proto, $recv, $rate, $secs) = @_;
    my $before = $recv->{count_after} ? $recv->{last}{$proto} // 0 : $recv->{count}->();
    my $cpu0 = cpu_s($recv->{pid});
    my ($argv) = loadgen(proto => $proto, port => $recv->{port}{$proto}, rate => $rate,
        secs => $secs, distinct => $DISTINCT);
    my $lg = parse_loadgen(run_out(@$argv));
    my $t_end = time;
    sleep 0.3;		# what is left in the socket buffer
    my $cpu = cpu_s($recv->{pid}) - $cpu0;	# before any SIGUSR1 dump
    my $after = $recv->{count_after}
        ? $recv->{count_after}->($proto, $t_end + 0.3) : $recv->{count}->();
    $recv->{last}{$proto} = $after if $recv->{count_after};
    my $got = $after - $before;
    my $p = { proto => $proto, receiver => $recv->{name}, offered => $rate || 'max',
        offered_rate => $lg->{rate} + 0, sent => $lg->{sent} + 0, received => $got,
        loss_pct => $lg->{sent} ? 100 * ($lg->{sent} - $got) / $lg->{sent} : 0,
        seconds => $lg->{elapsed} + 0, rate => $got / $lg->{elapsed},
        cpu_s => $cpu, cpu_us_per_msg => $got ? 1e6 * $cpu / $got : 0 };
    $p->{loss_pct} = 0 if $p->{loss_pct} < 0;
    return $p;
}

sub ingest {
    my ($proto) = @_;
    my @rates = $quick ? (50000, 200000, 0) : (50000, 100000, 200000, 400000, 0);
    my $secs = $quick ? 1 : 3;
    my @recv = (sink_receiver($proto));
    if (have_prog('rsyslogd')) {
        my $rs = $R{_rsyslog} //= rsyslog_receiver();
        $rs->{last}{$proto} = $rs->{count_after}->($proto, time);
        push @recv, $rs;
    } else {
        need('rsyslog', 'apt-get install rsyslog');
    }
    push @recv, $R{_authsinkd} //= authsinkd_receiver();
    my @points;
    for my $rate (@rates) {
        # Side by side: the three receivers one after the other at each
        # rate, so a noisy neighbour weighs on all of them alike.
        for my $r (@recv) {
            my $p = ingest_point($proto, $r, $rate, $secs);
            push @points, $p;
            printf "  %-4s %-9s offered %7s/s: sent %8d received %8d (%7.0f/s) loss %5.2f%% cpu %.2f us/msg\n",
                $proto, $p->{receiver}, $rate ? $rate : 'max', $p->{sent}, $p->{received},
                $p->{rate}, $p->{loss_pct}, $p->{cpu_us_per_msg};
        }
    }
    stop_proc($recv[0]{pid});
    # Ratios at each rate, against the ceiling and authsinkd vs rsyslog.
    for my $rate (@rates) {
        my %at = map { $_->{receiver} => $_ } grep { $_->{offered} eq ($rate || 'max') } @points;
        for my $p (values %at) {
            $p->{ratio_vs_sink} = $at{sink}{rate} ? $p->{rate} / $at{sink}{rate} : 0;
        }
        $at{authsinkd}{ratio_vs_rsyslog} = $at{rsyslog}{rate} ? $at{authsinkd}{rate} / $at{rsyslog}{rate} : undef
            if $at{rsyslog};
    }
    return \@points;
}

# ---------------------------------------------------------------------
# Replay.

sub replay {
    my $n = $quick ? 200000 : 1000000;
    my $s = run_out("$bin/replay", '-n', $n, '-s', $quick ? 1 : 3, "$src/rules.d");
    my %r = $s =~ /(\w+) ([\d.]+)/g;
    my $res = { lines => $r{lines} + 0, cpu_s => $r{cpu} + 0, lines_per_cpu_s => $r{lines_per_cpu_s} + 0,
        goal => 2000000, ratio_vs_goal => $r{lines_per_cpu_s} / 2000000 };
    printf "  replay.c (syslog_parse + rules_match): %.0f lines/s per core (%.2f x goal 2M)\n",
        $res->{lines_per_cpu_s}, $res->{ratio_vs_goal};
    # The same through `authsink test -q` on a log file, process included.
    my $log = "$T/mail.log";
    my $lines = $quick ? 500000 : 2000000;
    system("$bin/loadgen -f -n $lines > $log 2>/dev/null") == 0 or die "loadgen -f failed";
    my @t0 = times;
    my $o = run_out("$build/authsink", 'test', '-q', '-f', $log, "$src/rules.d");
    my @t1 = times;
    my $cpu = ($t1[2] + $t1[3]) - ($t0[2] + $t0[3]);
    $res->{authsink_test} = { lines => $lines, cpu_s => $cpu,
        lines_per_cpu_s => $cpu > 0 ? $lines / $cpu : 0 };
    printf "  authsink test -q (%d lines from a file): %.0f lines/s per core\n",
        $lines, $res->{authsink_test}{lines_per_cpu_s};
    unlink $log;
    return $res;
}

# Rule loading: t/bench/rules-load.pl, the fastest of N in-process loads.
sub rules_load {
    local $ENV{AUTHSINK_BUILD} = $build;
    my $s = run_out($^X, "$src/t/bench/rules-load.pl", "$src/rules.d", $quick ? 5 : 20);
    my %res = (files => {});
    for (split /\n/, $s) {
        if (/^(\S+\.rules)\s+(\d+)\s+(\d+)\s+(\d+)/) {
            $res{files}{$1} = { rules => $2 + 0, us => $3 + 0, us_per_rule => $4 + 0 };
        } elsif (/^total\s+(\d+)\s+(\d+)\s+(\d+)/) {
            @res{qw(rules us us_per_rule)} = ($1 + 0, $2 + 0, $3 + 0);
        }
    }
    my ($worst) = sort { $res{files}{$b}{us_per_rule} <=> $res{files}{$a}{us_per_rule} }
        keys %{ $res{files} };
    $res{worst} = $worst;
    $res{worst_us_per_rule} = $worst ? $res{files}{$worst}{us_per_rule} : 0;
    printf "  %d rules in %d files: %d us per rule on average, slowest %s at %d us per rule\n",
        $res{rules} // 0, scalar(keys %{ $res{files} }), $res{us_per_rule} // 0,
        $worst // '-', $res{worst_us_per_rule};
    return \%res;
}

# ---------------------------------------------------------------------
# Latency.

sub parse_lat {
    my ($s) = @_;
    my %h = $s =~ /(\w+) ([\d.]+)/g;
    return { map { $_ => $h{$_} + 0 } grep { defined $h{$_} } qw(samples missing p50 p90 p99 max mean) };
}

sub print_lat {
    my ($what, $l) = @_;
    printf "  %-44s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%d samples, %d never seen)\n",
        $what, $l->{p50}, $l->{p99}, $l->{max}, $l->{samples}, $l->{missing};
}

sub latency {
    my $d = $R{_authsinkd} //= authsinkd_receiver();
    my %res;
    my ($n, $rate) = $quick ? (300, 100) : (1000, 100);
    my $bgsecs = $n / $rate + 3;
    my $probe = sub {
        my (%o) = @_;
        my $base = $addr_next;
        $addr_next += $o{n} * 4 + 1000;	# -4 uses every 4th login index
        return [ "$bin/probe", 'latency', '-p', $o{port}, '-t', $d->{table},
            '-r', $o{rate}, '-n', $o{n}, '-a', $base, '-w', 10, '-4' ];
    };
    my $with_bg = sub {	# run $code while 50k msg/s go to $port
        my ($port, $code) = @_;
        my ($argv) = loadgen(proto => 'udp', port => $port, rate => 50000, secs => $bgsecs);
        my $bg = start_proc('background', $argv, out => "$T/bg.out");
        sleep 0.5;
        my @r = $code->();
        stop_proc($bg, 'INT') if kill 0, $bg;
        return wantarray ? @r : $r[0];
    };

    # 1. authsinkd listening directly.
    for my $load (0, 1) {
        my $run = sub { parse_lat(run_out(@{ $probe->(port => $d->{port}{udp}, n => $n, rate => $rate) })) };
        my $l = $load ? $with_bg->($d->{port}{udp}, $run) : $run->();
        $res{"authsinkd_direct_" . ($load ? 'load50k' : 'idle')} = $l;
        print_lat("authsinkd, UDP direct, " . ($load ? '50k msg/s' : 'idle'), $l);
    }

    # 2. Through rsyslog: one stream, written to a file for the tailers and
    #    forwarded to authsinkd.
    my $rsd = have_prog('rsyslogd');
    if (!$rsd) {
        need('latency through rsyslog and the file tailers', 'apt-get install rsyslog');
        return \%res;
    }
    my $dir = "$T/lat";
    mkdir $dir;
    my $rport = free_port();
    spew("$dir/mail.log", '');
    spew("$dir/rsyslog.conf", <<"EOF");
global(workDirectory="$dir")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$rport" rcvbufSize="$RCVBUF")
action(type="omfile" file="$dir/mail.log" template="RSYSLOG_TraditionalFileFormat")
action(type="omfwd" target="127.0.0.1" port="$d->{port}{udp}" protocol="udp")
EOF
    my $rs = start_proc('rsyslogd-lat', [ $rsd, '-n', '-f', "$dir/rsyslog.conf", '-i', "$dir/rsyslog.pid" ]);
    wait_for(sub { -s "$dir/rsyslog.pid" }, 10) or die "rsyslogd did not start: " . slurp("$T/rsyslogd-lat.err");

    my @tailers;
    my $tailer = start_proc('tailer', [ 'sh', '-c',
        "exec tail -n0 -F '$dir/mail.log' 2>/dev/null | exec $^X '$src/t/bench/tailer.pl' '$dir/tailer'" ]);
    push @tailers, "tailer=$dir/tailer.db";
    my $pbs_ok = $pbs && -r $pbs;
    for my $m (qw(DB_File Net::Netmask Date::Parse File::Tail)) {
        next if have_perl_mod($m);
        next if !$pbs && $m ne 'DB_File';
        need("pop-before-smtp baseline: Perl module $m",
            'apt-get install ' . { DB_File => 'libperl5.36', 'Net::Netmask' => 'libnet-netmask-perl',
                'Date::Parse' => 'libtimedate-perl', 'File::Tail' => 'libfile-tail-perl' }->{$m});
        $pbs_ok = 0;
    }
    if (!$pbs) {
        need('pop-before-smtp baseline', 'set POP_BEFORE_SMTP=/path/to/pop-before-smtp '
            . '(version 1.42, public source of the popbsmtp project); the tail -F tailer runs instead');
    }
    my $pbs_pid;
    my $start_pbs = sub {
        my ($tuned) = @_;
        unlink "$dir/pbs.db";
        # Its own Dovecot pattern (pop-before-smtp-conf.pl); with $tuned the
        # polling its config file suggests (1-2 s) instead of 5-10 s.
        spew("$dir/pbs-conf.pl", <<"EOF" . ($tuned ? "\$file_tail{'interval'} = 1;\n\$file_tail{'maxinterval'} = 2;\n" : '') . "1;\n");
use vars qw(\$pat \$dbfile %file_tail \$mynet_func);
\$pat = '^[LOGTIME] \\S+ (?:dovecot: )?(?:imap|pop3)-login: ' .
    'Login: .*? (?:\\[|rip=)[:f]*(\\d+\\.\\d+\\.\\d+\\.\\d+)[],]';
\$dbfile = '$dir/pbs';
\$file_tail{'name'} = '$dir/mail.log';
\$mynet_func = sub { () };
EOF
        my $pid = start_proc('pop-before-smtp', [ $^X, '-T', $pbs, "--config=$dir/pbs-conf.pl", '--nodebug' ]);
        wait_for(sub { -e "$dir/pbs.db" }, 10)
            or die "pop-before-smtp did not start: " . slurp("$T/pop-before-smtp.err");
        return $pid;
    };
    if ($pbs_ok) {
        $pbs_pid = $start_pbs->(1);
        unshift @tailers, "pop_before_smtp=$dir/pbs.db";
    }
    my ($dn, $drate) = $quick ? (30, 10) : (100, 10);
    for my $load (0, 1) {
        my $run = sub {
            # The C prober (authsinkd's table) and the DB_File prober send
            # to the same rsyslog input at the same time.
            my $c = start_proc('probe-rs', $probe->(port => $rport, n => $n, rate => $rate),
                out => "$T/probe-rs.out");
            my $dbase = $addr_next;
            $addr_next += $dn + 10;
            my $p = run_out($^X, "$src/t/bench/probe-db.pl", '-p', $rport, '-r', $drate,
                '-n', $dn, '-a', $dbase, '-w', 15, @tailers);
            wait_for(sub { waitpid($c, WNOHANG) == $c }, 30);
            delete $procs{$c};
            return (slurp("$T/probe-rs.out"), $p);
        };
        unlink "$T/probe-rs.out";
        my ($c, $p) = $load ? $with_bg->($rport, $run) : $run->();
        my $tag = $load ? 'load50k' : 'idle';
        my $what = $load ? '50k msg/s' : 'idle';
        $res{"authsinkd_via_rsyslog_$tag"} = parse_lat($c);
        print_lat("authsinkd, via rsyslog omfwd, $what", $res{"authsinkd_via_rsyslog_$tag"});
        for my $line (split /\n/, $p) {
            my ($name) = $line =~ /^(\w+)/ or next;
            $res{"${name}_$tag"} = parse_lat($line);
            print_lat(($name eq 'tailer' ? 'tail -F | perl -> DB_File' : 'pop-before-smtp 1.42 (1-2 s poll)')
                . ", file, $what", $res{"${name}_$tag"});
        }
    }
    if ($pbs_ok && !$quick) {
        # As shipped: the script's own 5-10 s polling.
        stop_proc($pbs_pid);
        # It reads its log from the start: give it an empty one.
        truncate "$dir/mail.log", 0;
        $pbs_pid = $start_pbs->(0);
        my $dbase = $addr_next;
        $addr_next += 40;
        my $p = run_out($^X, "$src/t/bench/probe-db.pl", '-p', $rport, '-r', 1,
            '-n', 10, '-a', $dbase, '-w', 25, "pop_before_smtp=$dir/pbs.db");
        $res{pop_before_smtp_defaults_idle} = parse_lat($p);
        print_lat('pop-before-smtp 1.42 (default 5-10 s poll), idle', $res{pop_before_smtp_defaults_idle});
    }
    stop_proc($_) for grep { $_ } $pbs_pid, $tailer, $rs;
    $res{tailer_used} = $pbs_ok ? 'pop-before-smtp 1.42 and tail -F | perl -> DB_File'
        : 'tail -F | perl -> DB_File (t/bench/tailer.pl)';
    return \%res;
}

# ---------------------------------------------------------------------
# Readers.

sub readers {
    my $d = $R{_authsinkd} //= authsinkd_receiver();
    my %res;
    my $secs = $quick ? 1 : 2;
    # Logins the lookups will find: 32768 addresses.
    my $g0 = $d->{counters}->()->{granted};
    my ($argv, $base) = loadgen(proto => 'udp', port => $d->{port}{udp}, rate => 20000,
        n => 32768, logins => 100);
    run_out(@$argv);
    wait_for(sub { $d->{counters}->()->{granted} - $g0 >= 32768 }, 20);
    my $check = sub { my %h = run_out("$bin/probe", 'check', '-x', "$build/authsink",
        '-t', $d->{table}, '-d', $secs, '-a', $base) =~ /(\w+) ([\d.]+)/g; \%h };
    my $lookups = sub { my %h = run_out("$bin/probe", 'lookups', '-t', $d->{table},
        '-d', $secs, '-a', $base, '-k', 65536) =~ /(\w+) ([\d.]+)/g; \%h };
    for my $load (0, 1) {
        my ($bg, $g1, $t1);
        if ($load) {
            my ($a) = loadgen(proto => 'udp', port => $d->{port}{udp}, rate => 10000,
                secs => 2 * $secs + 2, logins => 100);
            $g1 = $d->{counters}->()->{granted};
            $t1 = time;
            $bg = start_proc('logins10k', $a, out => "$T/logins10k.out");
            sleep 0.5;
        }
        my $c = $check->();
        my $l = $lookups->();
        my $tag = $load ? 'load10k' : 'idle';
        $res{"check_$tag"} = { per_s => $c->{rate} + 0, ms_each => 1000 / ($c->{rate} || 1),
            yes => $c->{yes} + 0, no => $c->{no} + 0, error => $c->{error} + 0 };
        $res{"lookups_$tag"} = { per_s => $l->{rate} + 0, hits => $l->{hits} + 0,
            lookups => $l->{lookups} + 0 };
        if ($load) {
            wait_for(sub { waitpid($bg, WNOHANG) == $bg }, 30);
            delete $procs{$bg};
            my $lg = parse_loadgen(slurp("$T/logins10k.out"));
            $res{ingest_during} = { sent => $lg->{sent} + 0,
                granted => settle(sub { $d->{counters}->()->{granted} }) - $g1 };
        }
        printf "  %-7s authsink check: %6.0f/s (%.2f ms each, %d errors); relay_lookup_live: %8.0f/s\n",
            $tag, $c->{rate}, 1000 / ($c->{rate} || 1), $c->{error}, $l->{rate};
    }
    printf "  during the 10k logins/s: %d sent, %d granted\n",
        $res{ingest_during}{sent}, $res{ingest_during}{granted};
    return \%res;
}

# ---------------------------------------------------------------------
# Serve: the query server against one process per query, on one table.

sub serve_bench {
    my $d = authsinkd_receiver(name => 'authsinkd-serve');
    my %res;
    my $secs = $quick ? 1 : 3;
    my $keys = 10000;
    # 10 000 logins, each a new address: the table the queries find.
    my $g0 = $d->{counters}->()->{granted};
    my ($argv, $base) = loadgen(proto => 'udp', port => $d->{port}{udp}, rate => 20000,
        n => $keys, logins => 100);
    run_out(@$argv);
    wait_for(sub { $d->{counters}->()->{granted} - $g0 >= $keys }, 20)
        or die "authsinkd granted fewer than $keys logins";
    my %sock = map { $_ => "$d->{dir}/$_.sock" } qw(line policy socketmap);
    my $sv = start_proc('authsink-serve', [ "$build/authsink", '-t', $d->{table}, 'serve',
        map { "$_:unix:$sock{$_}" } sort keys %sock ]);
    wait_for(sub { !grep { !-S $_ } values %sock }, 10)
        or die "authsink serve did not start: " . slurp("$T/authsink-serve.err");
    my @runs = (
        [ check => 'authsink check, a process per query',
            [ "$bin/probe", 'check', '-x', "$build/authsink" ] ],
        [ line => 'serve line, persistent connection',
            [ "$bin/probe", 'serve', '-s', $sock{line}, '-P', 'line', '-k', $keys ] ],
        [ policy => 'serve policy, persistent connection',
            [ "$bin/probe", 'serve', '-s', $sock{policy}, '-P', 'policy', '-k', $keys ] ],
        [ socketmap => 'serve socketmap, persistent connection',
            [ "$bin/probe", 'serve', '-s', $sock{socketmap}, '-P', 'socketmap', '-k', $keys ] ],
        [ line_per_query => 'serve line, a connection per query',
            [ "$bin/probe", 'serve', '-s', $sock{line}, '-P', 'line', '-o', '-k', $keys ] ],
    );
    for my $load (0, 1) {
        my ($bg, $g1);
        my $tag = $load ? 'load10k' : 'idle';
        if ($load) {
            my ($a) = loadgen(proto => 'udp', port => $d->{port}{udp}, rate => 10000,
                secs => @runs * ($secs + 0.5) + 2, logins => 100);
            $g1 = $d->{counters}->()->{granted};
            $bg = start_proc('serve-logins10k', $a, out => "$T/serve-logins10k.out");
            sleep 0.5;
        }
        my $cpu0 = cpu_s($sv);
        for my $r (@runs) {
            my ($id, $what, $cmd) = @$r;
            my $c0 = cpu_s($sv);
            my %h = run_out(@$cmd, '-t', $d->{table}, '-d', $secs, '-a', $base)
                =~ /(\w+) ([\d.]+)/g;
            my $n = $h{queries} // $h{checks};
            my $cpu = cpu_s($sv) - $c0;
            $res{$tag}{$id} = { per_s => $h{rate} + 0, queries => $n + 0, yes => $h{yes} + 0,
                no => $h{no} + 0, error => $h{error} + 0,
                $id eq 'check' ? () : (serve_cpu_us_per_query => $n ? 1e6 * $cpu / $n : 0) };
        }
        my $c = $res{$tag}{check}{per_s} || 1;
        $res{$tag}{$_}{vs_check} = $res{$tag}{$_}{per_s} / $c for map { $_->[0] } @runs;
        if ($load) {
            wait_for(sub { waitpid($bg, WNOHANG) == $bg }, 60);
            delete $procs{$bg};
            my $lg = parse_loadgen(slurp("$T/serve-logins10k.out"));
            $res{ingest_during} = { sent => $lg->{sent} + 0,
                granted => settle(sub { $d->{counters}->()->{granted} }) - $g1 };
        }
        for my $r (@runs) {
            my ($id, $what) = @$r;
            my $x = $res{$tag}{$id};
            printf "  %-7s %-40s %8.0f/s  %7.1fx check  (%d yes, %d no, %d errors%s)\n",
                $tag, $what, $x->{per_s}, $x->{vs_check}, $x->{yes}, $x->{no}, $x->{error},
                defined $x->{serve_cpu_us_per_query}
                    ? sprintf(', serve %.1f us CPU each', $x->{serve_cpu_us_per_query}) : '';
        }
    }
    printf "  during the 10k logins/s: %d sent, %d granted\n",
        $res{ingest_during}{sent}, $res{ingest_during}{granted};
    $res{table_entries} = $keys;
    stop_proc($sv);
    stop_proc($d->{pid});
    return \%res;
}

# ---------------------------------------------------------------------
# Scale.

sub rss_kib {
    my %s = slurp("/proc/$_[0]/status") =~ /^(\w+):\s+(\d+)/mg;
    return { map { $_ => ($s{$_} // 0) + 0 } qw(VmRSS RssAnon RssFile VmHWM) };
}

sub scale {
    my ($live, $expired) = $quick ? (100000, 10000) : (1000000, 100000);
    my $dir = "$T/scale";
    mkdir $dir;
    my %res = (live => $live, expired => $expired);
    my %f = run_out("$bin/probe", 'fill', '-t', "$dir/relay.tdb", '-n', $live,
        '-e', $expired) =~ /(\w+) ([\d.]+)/g;
    $res{fill_s} = $f{seconds} + 0;
    $res{file_bytes} = -s "$dir/relay.tdb";
    # authsinkd's commit path on this table: logins of known addresses in
    # batches of 500 (they stay live).
    my %w = run_out("$bin/probe", 'writes', '-t', "$dir/relay.tdb", '-n', $quick ? 5000 : 20000,
        '-b', 500, '-m', $live) =~ /(\w+) ([\d.]+)/g;
    $res{commit_us_per_login} = $w{us_per_login} + 0;
    my $port = free_port();
    spew("$dir/authsink.conf", "listen = udp:127.0.0.1:$port\ntable = $dir/relay.tdb\n"
        . "rules-dir = $src/rules.d\npidfile = $dir/authsinkd.pid\n"
        . "dumpfile = $dir/authsinkd.dump\nsweep-interval = 1h\n");
    my $t0 = time;
    my $pid = start_proc('authsinkd-scale', [ "$build/authsinkd", '-f', '-c', "$dir/authsink.conf" ]);
    wait_for(sub { -s "$dir/authsinkd.pid" }, 60) or die "authsinkd did not start: "
        . slurp("$T/authsinkd-scale.err");
    $res{start_s} = time - $t0;
    my $d = { pid => $pid, dir => $dir };
    $res{rss_start_kib} = rss_kib($pid);
    # A login into the big table: sent -> visible.
    $res{latency_idle} = parse_lat(run_out("$bin/probe", 'latency', '-p', $port,
        '-t', "$dir/relay.tdb", '-r', 100, '-n', $quick ? 100 : 300, '-a', $live + $expired,
        '-w', 10, '-4'));
    # SIGALRM: the sweep ends with a tdb commit, which sets the file's
    # mtime; the dump (SIGUSR1) after it says how many went.
    my $mtime = sub { (Time::HiRes::stat("$dir/relay.tdb"))[9] };
    my $m0 = $mtime->();
    $t0 = time;
    kill 'ALRM', $pid;
    wait_for(sub { $mtime->() != $m0 }, 300) or die "no commit after SIGALRM";
    $res{sweep_s} = time - $t0;
    $t0 = time;
    my $c = dump_counters($d);
    $res{dump_s} = time - $t0;
    $res{swept} = $c->{swept} + 0;
    $res{rss_after_sweep_kib} = rss_kib($pid);
    $res{file_bytes_after_sweep} = -s "$dir/relay.tdb";
    my %l = run_out("$bin/probe", 'lookups', '-t', "$dir/relay.tdb", '-d', $quick ? 1 : 2,
        '-a', 0, '-k', 65536) =~ /(\w+) ([\d.]+)/g;
    $res{lookups_per_s} = $l{rate} + 0;
    my %k = run_out("$bin/probe", 'check', '-x', "$build/authsink", '-t', "$dir/relay.tdb",
        '-d', 1, '-a', 0) =~ /(\w+) ([\d.]+)/g;
    $res{check_per_s} = $k{rate} + 0;
    stop_proc($pid);
    printf "  %d live + %d expired entries written in %.1f s; table %.1f MiB\n",
        $live, $expired, $res{fill_s}, $res{file_bytes} / 1048576;
    printf "  commit path in this table (probe writes, batches of 500): %.1f us per login\n",
        $res{commit_us_per_login};
    printf "  authsinkd start %.2f s, RSS %.1f MiB (anon %.1f, file %.1f)\n",
        $res{start_s}, $res{rss_start_kib}{VmRSS} / 1024, $res{rss_start_kib}{RssAnon} / 1024,
        $res{rss_start_kib}{RssFile} / 1024;
    print_lat('login -> visible, idle, in this table', $res{latency_idle});
    printf "  sweep (SIGALRM) %.2f s, %d swept; dump (SIGUSR1) %.2f s; RSS after %.1f MiB (anon %.1f)\n",
        $res{sweep_s}, $res{swept}, $res{dump_s}, $res{rss_after_sweep_kib}{VmRSS} / 1024,
        $res{rss_after_sweep_kib}{RssAnon} / 1024;
    printf "  relay_lookup_live %.0f/s, authsink check %.0f/s; table after the sweep %.1f MiB\n",
        $res{lookups_per_s}, $res{check_per_s}, $res{file_bytes_after_sweep} / 1048576;
    return \%res;
}

# ---------------------------------------------------------------------
# Changes: each performance change of the product against the same tree
# without it (HEAD with that one commit's change to its file reverted,
# built here), side by side, alternating. Needs a git checkout; the
# commits are found by what they added (git log -S).

my @CHANGES = (
    { id => 'rcvbuf', what => 'UDP receive buffer 4 MiB (listen.c)',
      file => 'src/daemon/listen.c', find => 'UDP_RCVBUF', targets => ['authsinkd'] },
    { id => 'mktime', what => 'mktime() once per quarter hour (syslog.c)',
      file => 'src/lib/syslog.c', find => 'struct hour_start', targets => ['bench/replay', 'authsinkd'] },
);

sub median { my @v = sort { $a <=> $b } @_; return @v ? $v[$#v / 2] : 0 }

sub build_without {
    my ($c) = @_;
    have_prog('git') && have_prog('patch') or return 'git and patch are needed';
    my $log = `git -C '$src' log --reverse --format=%H -S'$c->{find}' -- '$c->{file}' 2>/dev/null`;
    my ($commit) = $log =~ /^([0-9a-f]{40})$/m
        or return 'not a git checkout, or the change is not in its history';
    my $dir = "$T/without-$c->{id}";
    mkdir $dir;
    my $targets = join ' ', map { "build/$_" } @{ $c->{targets} };
    # The working tree's bench programs on both sides.
    my $sh = "git -C '$src' archive HEAD | tar -x -C '$dir'"
        . " && cp '$src'/t/bench/*.c '$src'/t/bench/*.h '$dir/t/bench/'"
        . " && git -C '$src' show --format= $commit -- '$c->{file}' | patch -s -R -p1 -d '$dir'"
        . " && make -s -C '$dir' -j2 $targets";
    system("($sh) >'$T/build-$c->{id}.log' 2>&1") == 0
        or return "building without $commit failed (see $T/build-$c->{id}.log)";
    return { commit => substr($commit, 0, 10), build => "$dir/build" };
}

# Fresh daemons, before and after, one after the other at the same load.
sub ab_daemon {
    my ($c, $before_bin, $rate, $secs, $rounds) = @_;
    my %side;
    for my $round (1 .. $rounds) {
        for my $k ($round % 2 ? qw(before after) : qw(after before)) {
            my $d = authsinkd_receiver(bin => $k eq 'before' ? $before_bin : "$build/authsinkd",
                name => "ab-$c->{id}-$k-$rate-$round");
            sleep 0.2;
            my $p = ingest_point('udp', $d, $rate, $secs);
            $p->{commits} = $d->{counters}->()->{commits} + 0;
            stop_proc($d->{pid});
            push @{ $side{$k} }, $p;
        }
    }
    my %r;
    for my $k (qw(before after)) {
        my @p = @{ $side{$k} };
        $r{$k} = { rate => median(map { $_->{rate} } @p), loss_pct => median(map { $_->{loss_pct} } @p),
            cpu_us_per_msg => median(map { $_->{cpu_us_per_msg} } @p),
            commits_per_s => median(map { $_->{commits} / ($_->{seconds} || 1) } @p) };
    }
    return \%r;
}

sub changes {
    my %res;
    my $rounds = $quick ? 1 : 2;
    for my $c (@CHANGES) {
        my $b = build_without($c);
        if (!ref $b) {
            need("before/after of $c->{what}", $b);
            next;
        }
        my $r = $res{$c->{id}} = { what => $c->{what}, commit => $b->{commit} };
        if ($c->{id} eq 'rcvbuf') {
            for my $rate (100000, 200000) {
                $r->{"udp_$rate"} = ab_daemon($c, "$b->{build}/authsinkd", $rate, $quick ? 1 : 2, $rounds);
                my ($x, $y) = @{ $r->{"udp_$rate"} }{qw(before after)};
                printf "  %-44s UDP %3dk/s: loss %5.2f %% -> %5.2f %%\n", $c->{what},
                    $rate / 1000, $x->{loss_pct}, $y->{loss_pct};
            }
        } elsif ($c->{id} eq 'mktime') {
            my %v;
            for my $round (1 .. $rounds + 1) {
                for my $k ($round % 2 ? qw(before after) : qw(after before)) {
                    my %h = run_out($k eq 'before' ? "$b->{build}/bench/replay" : "$bin/replay",
                        '-n', 200000, '-s', 1, "$src/rules.d") =~ /(\w+) ([\d.]+)/g;
                    push @{ $v{$k} }, $h{lines_per_cpu_s};
                }
            }
            ($r->{before}, $r->{after}) = (median(@{ $v{before} }), median(@{ $v{after} }));
            $r->{ratio} = $r->{after} / ($r->{before} || 1);
            printf "  %-44s replay: %.0f -> %.0f lines/s per core (%.2fx)\n", $c->{what},
                $r->{before}, $r->{after}, $r->{ratio};
            my $ab = $r->{udp_100000} = ab_daemon($c, "$b->{build}/authsinkd", 100000, $quick ? 1 : 2, $rounds);
            $r->{daemon_ratio} = $ab->{before}{cpu_us_per_msg} / ($ab->{after}{cpu_us_per_msg} || 1);
            printf "  %-44s authsinkd, UDP 100k/s: %.2f -> %.2f us CPU per message (%.2fx)\n", $c->{what},
                $ab->{before}{cpu_us_per_msg}, $ab->{after}{cpu_us_per_msg}, $r->{daemon_ratio};
        }
    }
    return \%res;
}

# ---------------------------------------------------------------------
# The goals of issue 7, from the figures above.

sub goals {
    my @g;
    my $add = sub {
        my ($what, $value, $target, $met) = @_;
        push @g, { goal => $what, value => $value, target => $target, met => $met ? JSON::PP::true : JSON::PP::false };
    };
    for my $proto (qw(udp tcp)) {
        my $pts = $R{$proto} or next;
        my %at;
        $at{$_->{offered}}{$_->{receiver}} = $_ for @$pts;
        for my $off (sort { ($a eq 'max') <=> ($b eq 'max') || $a <=> $b } keys %at) {
            my ($s, $r, $a) = @{ $at{$off} }{qw(sink rsyslog authsinkd)};
            next unless $s && $a;
            my $ratio = $a->{rate} / ($s->{rate} || 1);
            $add->(uc($proto) . " $off/s: authsinkd vs ceiling, loss",
                sprintf('%.2f, %.2f %%', $ratio, $a->{loss_pct}), '>= 0.90, 0 %',
                $ratio >= 0.9 && $a->{loss_pct} == 0);
            if ($r) {
                my $vs = $a->{rate} / ($r->{rate} || 1);
                # at a rate both take in full the two are equal, up to noise
                $add->(uc($proto) . " $off/s: authsinkd vs rsyslog",
                    sprintf('%.2f (loss %.2f %% vs %.2f %%)', $vs, $a->{loss_pct}, $r->{loss_pct}),
                    '>= 1.00', $vs >= 0.995 && $a->{loss_pct} <= $r->{loss_pct});
            }
        }
    }
    if (my $r = $R{replay}) {
        $add->('replay: lines/s per core', sprintf('%.2f M', $r->{lines_per_cpu_s} / 1e6), '>= 2 M',
            $r->{lines_per_cpu_s} >= 2e6);
    }
    if (my $r = $R{rules}) {
        $add->('rule files: load time per rule, slowest file',
            sprintf('%d us (%s)', $r->{worst_us_per_rule}, $r->{worst} // '-'), '< 1000 us',
            $r->{worst_us_per_rule} < 1000);
    }
    if (my $l = $R{latency}) {
        for my $k (qw(authsinkd_direct_idle authsinkd_direct_load50k authsinkd_via_rsyslog_idle authsinkd_via_rsyslog_load50k)) {
            my $v = $l->{$k} or next;
            (my $what = $k) =~ s/authsinkd_//;
            $what =~ tr/_/ /;
            $add->("latency p99, $what", sprintf('%.1f ms', $v->{p99}), '<= 50 ms',
                $v->{p99} <= 50 && !$v->{missing});
        }
    }
    return \@g;
}

# ---------------------------------------------------------------------
# Output.

sub plot {
    my ($udp, $tcp) = @_;
    my $gp = have_prog('gnuplot') or return need('the plot', 'apt-get install gnuplot-nox');
    my %series;
    for my $p (@$udp, @$tcp) {
        push @{ $series{"$p->{proto}-$p->{receiver}"} }, $p;
    }
    for my $k (keys %series) {
        spew("$out/$k.dat", join '', map { sprintf "%.0f %.0f %.3f\n", $_->{offered_rate} / 1000,
            $_->{rate} / 1000, $_->{loss_pct} } sort { $a->{offered_rate} <=> $b->{offered_rate} } @{ $series{$k} });
    }
    my @recv = grep { my $r = $_; grep { /-\Q$r\E$/ } keys %series } qw(sink rsyslog authsinkd);
    my %style = (sink => 'lc rgb "#777777" dt 2 pt 6', rsyslog => 'lc rgb "#1f77b4" pt 5',
        authsinkd => 'lc rgb "#d62728" pt 7');
    my %title = (sink => 'sink (ceiling)', rsyslog => 'rsyslog', authsinkd => 'authsinkd');
    my $plots = sub {
        my ($proto, $col) = @_;
        join ', ', map { "'$out/$proto-$_.dat' using 1:$col with linespoints $style{$_} lw 2 title '$title{$_}'" }
            grep { $series{"$proto-$_"} } @recv;
    };
    my $m = $R{machine};
    spew("$out/results.gp", <<"EOF");
set terminal pngcairo size @{[ $series{'tcp-sink'} ? 1200 : 800 ]},400 font "sans,9"
set output '$out/results.png'
set multiplot layout 1,@{[ $series{'tcp-sink'} ? 3 : 2 ]} title "authsink bench: $m->{nproc} x $m->{cpu}, $m->{kernel} (loopback)"
set grid
set key top left
set yrange [0:*]
set xlabel 'offered, k msg/s'
set ylabel 'received, k msg/s'
set title 'UDP: received'
plot @{[ $plots->('udp', 2) ]}
unset key
set ylabel 'lost, %'
set title 'UDP: loss'
plot @{[ $plots->('udp', 3) ]}
@{[ $series{'tcp-sink'} ? "set ylabel 'received, k msg/s'
set yrange [*:*]
set logscale xy
set title 'TCP octet-counted: received (log scales)'
plot " . $plots->('tcp', 2) : '' ]}
unset multiplot
EOF
    if (system($gp, "$out/results.gp") != 0) {
        need('the plot', "gnuplot failed on $out/results.gp");
        return;
    }
    print "  plot: $out/results.png\n";
}

sub table {
    my ($title, $points) = @_;
    return unless $points && @$points;
    print "\n$title\n";
    printf "  %-8s %-10s %10s %10s %10s %8s %9s %10s %10s\n", 'offered', 'receiver',
        'sent', 'received', 'recv/s', 'loss %', 'us/msg', 'vs ceiling', 'vs rsyslog';
    for my $p (@$points) {
        printf "  %-8s %-10s %10d %10d %10.0f %8.2f %9.2f %10.2f %10s\n",
            $p->{offered}, $p->{receiver}, $p->{sent}, $p->{received}, $p->{rate},
            $p->{loss_pct}, $p->{cpu_us_per_msg}, $p->{ratio_vs_sink} // 0,
            defined $p->{ratio_vs_rsyslog} ? sprintf('%.2f', $p->{ratio_vs_rsyslog}) : '';
    }
}

# ---------------------------------------------------------------------

mkdir $out;
for my $p (qw(loadgen sink replay probe)) {
    -x "$bin/$p" or die "$bin/$p is missing: run `make bench`\n";
}
$R{machine} = machine();
printf "authsink bench on %d x %s, %s, %.1f GiB; load average %.2f before%s\n",
    $R{machine}{nproc}, $R{machine}{cpu}, $R{machine}{kernel}, $R{machine}{mem_gib},
    $R{machine}{loadavg_before}, $quick ? ' (quick)' : '';
print "  (the machine is not idle: figures are noisy, compare the side-by-side ratios)\n"
    if $R{machine}{loadavg_before} > 0.5;

if (want('udp')) { print "\nUDP ingest\n"; $R{udp} = ingest('udp') }
if (want('tcp')) { print "\nTCP ingest (octet-counted)\n"; $R{tcp} = ingest('tcp') }
if ($R{_rsyslog}) { stop_proc($R{_rsyslog}{pid}) }
if (want('replay')) { print "\nReplay\n"; $R{replay} = replay() }
if (want('rules')) { print "\nRule loading\n"; $R{rules} = rules_load() }
if (want('latency')) { print "\nLatency, login sent -> visible in the table\n"; $R{latency} = latency() }
if (want('readers')) { print "\nReaders\n"; $R{readers} = readers() }
if ($R{_authsinkd}) {
    my $c = $R{_authsinkd}{dump}->();
    $R{authsinkd_counters} = $c;
    stop_proc($R{_authsinkd}{pid});
}
if (want('serve')) { print "\nQuery server (authsink serve) vs a process per query\n"; $R{serve} = serve_bench() }
if (want('scale')) { print "\nScale\n"; $R{scale} = scale() }
if (want('changes')) { print "\nProduct changes, before -> after (built without each)\n"; $R{changes} = changes() }

delete @R{qw(_rsyslog _authsinkd)};
table('UDP ingest', $R{udp});
table('TCP ingest', $R{tcp});
$R{goals} = goals();
if (@{ $R{goals} }) {
    print "\nGoals\n";
    printf "  %-44s %-28s %-14s %s\n", 'goal', 'measured', 'target', '';
    printf "  %-44s %-28s %-14s %s\n", $_->{goal}, $_->{value}, $_->{target}, $_->{met} ? 'met' : 'NOT MET'
        for @{ $R{goals} };
}
$R{seconds} = time - $t_begin;
$R{missing} = \@missing;
spew("$out/results.json", JSON::PP->new->pretty->canonical->encode(\%R));
print "\n";
plot($R{udp} // [], $R{tcp} // []) if $R{udp} || $R{tcp};
printf "results: %s/results.json (%.0f s)\n", $out, $R{seconds};
print "skipped: $_\n" for @missing;
