#!/usr/bin/perl
# probe-db.pl - login-to-visible latency for the file-tailer baselines,
# the counterpart of `probe latency` for Berkeley DB hash files.
#
#   probe-db.pl -p PORT [-r RATE] [-n COUNT] [-a BASE] [-w WAIT] NAME=DBFILE...
#
# Sends COUNT Dovecot login lines (the text of t/bench/mix.h, IPv4 only:
# 10.224.0.0/11 plus BASE) as UDP syslog to 127.0.0.1:PORT at RATE/s, and
# every 2 ms opens each DBFILE (a DB_File hash, as Postfix's hash: map
# reads it) to look for the addresses not yet there. Prints per NAME
#   NAME samples N missing N p50 MS p90 MS p99 MS max MS mean MS
use strict;
use warnings;
use DB_File;
use Fcntl;
use Getopt::Std;
use IO::Socket::INET;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my %o = (r => 10, n => 100, a => 0, w => 15);
getopts('p:r:n:a:w:', \%o) && $o{p} && @ARGV or die
    "usage: probe-db.pl -p PORT [-r RATE] [-n COUNT] [-a BASE] [-w WAIT] NAME=DBFILE...\n";
my @dbs = map { [split /=/, $_, 2] } @ARGV;

my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{p},
    Proto => 'udp') or die "probe-db.pl: $!\n";
my (@ip, @sent, %lat, %pending);
for my $i (0 .. $o{n} - 1) {
    my $v = 0xE00000 + $o{a} + $i;
    $ip[$i] = join '.', 10, ($v >> 16) & 255, ($v >> 8) & 255, $v & 255;
}
$pending{$_->[0]} = {} for @dbs;
$lat{$_->[0]} = [] for @dbs;

my ($t0, $next, $last_send) = (time, 0, 0);
while (1) {
    my $t = time;
    while ($next < $o{n} && $t >= $t0 + $next / $o{r}) {
        my $msg = sprintf '<22>%s mx1 dovecot: imap-login: Login: user=<user%d@example.net>, '
            . 'method=PLAIN, rip=%s, lip=192.0.2.10, mpid=%d, TLS, session=<q7Xn2Ab%x>',
            strftime('%b %e %H:%M:%S', localtime), $next, $ip[$next], 2000 + $next, $next;
        $sent[$next] = time;
        $sock->send($msg);
        $pending{$_->[0]}{$next} = 1 for @dbs;
        $last_send = $sent[$next];
        $next++;
    }
    my $left = 0;
    for my $db (@dbs) {
        my ($name, $file) = @$db;
        my $p = $pending{$name};
        next unless %$p;
        my %h;
        if (-e $file && tie(%h, 'DB_File', $file, O_RDONLY, 0644, $DB_HASH)) {
            my $now = time;
            for my $i (keys %$p) {
                next unless exists $h{$ip[$i]};
                push @{$lat{$name}}, ($now - $sent[$i]) * 1000;
                delete $p->{$i};
            }
            untie %h;
        }
        $left += keys %$p;
    }
    last if $next == $o{n} && ($left == 0 || time > $last_send + $o{w});
    sleep 0.002;
}

for my $db (@dbs) {
    my $name = $db->[0];
    my @v = sort { $a <=> $b } @{$lat{$name}};
    my $n = @v;
    my $pct = sub { $n ? $v[int($_[0] * ($n - 1) + 0.5)] : 0 };
    my $sum = 0;
    $sum += $_ for @v;
    printf "%s samples %d missing %d p50 %.2f p90 %.2f p99 %.2f max %.2f mean %.2f\n",
        $name, $n, scalar keys %{$pending{$name}}, $pct->(0.5), $pct->(0.9),
        $pct->(0.99), $n ? $v[-1] : 0, $n ? $sum / $n : 0;
}
