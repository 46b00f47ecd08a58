#!/usr/bin/perl
# serve-flood.pl KIND MODE ENDPOINT - a hostile client of `authsink serve`
# for t/serve-clients.t, run as a peer until SIGTERM.
#   KIND      line | socketmap | policy
#   MODE      garbage   random bytes shaped like KIND's requests, never
#                       reading a reply (socketmap: broken netstrings)
#             unread    well-formed requests as fast as it can, never
#                       reading a reply
#             longline  one line that never ends (line, policy); on
#                       SIGTERM it ends the line, sends a good request for
#                       192.0.2.7 and prints the two replies as "final: ..."
#   ENDPOINT  unix:/PATH | tcp:HOST:PORT
# When serve closes the connection it prints "closed by serve" and
# connects again. "started" is printed once 1 MiB has been sent.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);
use Errno qw(EINTR EAGAIN);

my ($kind, $mode, $ep) = @ARGV;
die "usage: serve-flood.pl KIND MODE ENDPOINT\n" unless $ep;
$| = 1;
my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };
$SIG{PIPE} = 'IGNORE';
srand(42);

sub connect_ep {
    my $s = $ep =~ /^unix:(.*)/
        ? IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $1)
        : $ep =~ /^tcp:(.*):(\d+)$/
        ? IO::Socket::INET->new(PeerAddr => $1, PeerPort => $2, Proto => 'tcp')
        : die "bad endpoint $ep\n";
    return $s // die "connect $ep: $!\n";
}

sub garbage {
    # line: short lines, so that the replies pile up fast even in the
    # large buffers of a loopback TCP connection
    my $n = 1 + int(rand($kind eq 'line' ? 16 : 300));
    my $g = join '', map { chr(int(rand(256))) } 1 .. $n;
    return $kind eq 'socketmap' ? "$n:$g;" : "$g\n" . (rand() < 0.2 ? "\n" : '');
}

my $good = {
    line => "192.0.2.7\n",
    socketmap => "15:relay 192.0.2.7,",
    policy => "request=smtpd_access_policy\nclient_address=192.0.2.7\n\n",
}->{$kind} // die "bad kind $kind\n";

# Chunks of 64 KiB, made once.
my $chunk = '';
if ($mode eq 'garbage') { $chunk .= garbage() while length($chunk) < 65536 }
elsif ($mode eq 'unread') { $chunk = $good x int(65536 / length $good) }
elsif ($mode eq 'longline') {
    $chunk = join '', map { chr(33 + int(rand(90))) } 1 .. 65536;
    $chunk = "client_address=$chunk" if $kind eq 'policy';
} else { die "bad mode $mode\n" }

my ($sent, $started) = (0, 0);
my $s = connect_ep();
my $first = 1;
while (!$stop) {
    my $buf = $chunk;
    $buf =~ s/^client_address=// unless $first;	# policy longline: one attribute
    $first = 0;
    while (length $buf && !$stop) {
        my $n = syswrite($s, $buf);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            print "closed by serve ($!)\n";
            die "longline: closed by serve\n" if $mode eq 'longline';
            close $s;
            $s = connect_ep();
            $first = 1;
            last;
        }
        substr($buf, 0, $n) = '';
        $sent += $n;
        if (!$started && $sent >= 1 << 20) {
            print "started\n";
            $started = 1;
        }
    }
}

if ($mode eq 'longline') {
    my $end = $kind eq 'policy' ? "\n\n" : "\n";
    syswrite($s, $end . $good) or die "final write: $!\n";
    my ($got, $want) = ('', $kind eq 'policy' ? qr/\n\n.*\n\n/s : qr/\n.*\n/s);
    my $sel = IO::Select->new($s);
    while ($got !~ $want && $sel->can_read(5)) {
        sysread($s, my $b, 65536) or last;
        $got .= $b;
    }
    $got =~ s/\n/|/g;
    print "final: $got\n";
}
print "sent $sent\n";
exit 0;
