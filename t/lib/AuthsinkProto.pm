# AuthsinkProto.pm - talk the MTA protocols to authsink: a connection to
# `authsink policy|socketmap` on a pipe (as spawn(8)/inetd run it) or to
# `authsink serve` on a socket, with reads that time out instead of
# hanging, so a reply that is buffered and never sent fails the test.
package AuthsinkProto;
use strict;
use warnings;
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IPC::Open2 ();
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Authsink;

our @EXPORT = qw(stdio_conn unix_conn tcp_conn netstring policy_request
    new_table start_serve);

# A table with entries, made the way administrators make one: authsinkd
# creates it, `authsink add` fills it. Returns the daemon hash. The daemon
# is stopped again unless keep => 1: readers need no daemon, and a running
# one would recreate a table a test moves away to make it unavailable.
sub new_table {
    my (%o) = @_;
    my $d = start_daemon(%o);
    for my $e (@{ $o{add} // [] }) {
        my ($rc, undef, $err) = authsink('-t', $d->{table}, 'add', @$e);
        die "authsink add @$e: $err" if $rc != 0;
    }
    Authsink::stop_daemon($d) unless $o{keep};
    return $d;
}

# start_serve(DIR, ARGS...): `authsink ARGS` (a serve command line) as a
# peer logging to DIR/serve.log.
sub start_serve {
    my ($dir, @args) = @_;
    my $log = "$dir/serve.log";
    my $start = -s $log // 0;
    # Ready once it logged that all its listeners are open.
    return start_peer(name => 'authsink serve', log => $log,
        argv => [build_dir() . '/authsink', @args],
        ready => sub { substr(Authsink::slurp($log), $start) =~ /serving table/ });
}

sub stdio_conn {
    my @argv = @_;
    my $pid = IPC::Open2::open2(my $out, my $in, build_dir() . '/authsink', @argv);
    return AuthsinkProto::Conn->new(rfh => $out, wfh => $in, pid => $pid);
}

sub unix_conn {
    my ($path) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
        or die "connect $path: $!";
    return AuthsinkProto::Conn->new(rfh => $s, wfh => $s);
}

sub tcp_conn {
    my ($host, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
        Proto => 'tcp') or die "connect $host:$port: $!";
    return AuthsinkProto::Conn->new(rfh => $s, wfh => $s);
}

sub netstring { my ($s) = @_; length($s) . ":$s," }

# The attributes Postfix 3.7 sends, with ours on top.
sub policy_request {
    my (%a) = @_;
    my @attrs = (request => 'smtpd_access_policy', protocol_state => 'RCPT',
        protocol_name => 'ESMTP', client_address => '192.0.2.7',
        client_name => 'unknown', client_port => '54321',
        reverse_client_name => 'unknown', server_address => '127.0.0.1',
        server_port => '25', helo_name => 'client.test',
        sender => 'user@client.test', recipient => 'someone@foreign.test',
        recipient_count => '0', queue_id => '', instance => '1a2b.3c4d.5e6f.0',
        size => '0', etrn_domain => '', stress => '', sasl_method => '',
        sasl_username => '', sasl_sender => '', ccert_subject => '',
        ccert_issuer => '', ccert_fingerprint => '', ccert_pubkey_fingerprint => '',
        encryption_protocol => '', encryption_cipher => '',
        encryption_keysize => '0', policy_context => '', compatibility_level => '3.6',
        mail_version => '3.7.11');
    my %seen;
    my $text = '';
    while (my ($k, $v) = splice @attrs, 0, 2) {
        next if exists $a{$k} && !defined $a{$k};	# undef: leave it out
        $v = $a{$k} if exists $a{$k};
        $seen{$k} = 1;
        $text .= "$k=$v\n";
    }
    $text .= "$_=$a{$_}\n" for grep { !$seen{$_} && defined $a{$_} } sort keys %a;
    return "$text\n";
}

package AuthsinkProto::Conn;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time);

sub new {
    my ($class, %o) = @_;
    return bless { %o, buf => '', eof => 0 }, $class;
}

sub send {
    my ($c, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    while (length $bytes) {
        my $n = syswrite($c->{wfh}, $bytes);
        return 0 unless $n;
        substr($bytes, 0, $n) = '';
    }
    return 1;
}

# One more chunk within $timeout seconds; 0 on timeout or end of file.
sub fill {
    my ($c, $timeout) = @_;
    return 0 if $c->{eof};
    return 0 unless IO::Select->new($c->{rfh})->can_read($timeout);
    my $n = sysread($c->{rfh}, my $chunk, 65536);
    if (!$n) { $c->{eof} = 1; return 0 }
    $c->{buf} .= $chunk;
    return 1;
}

sub read_until {
    my ($c, $take, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (1) {
        my $r = $take->(\$c->{buf});
        return $r if defined $r;
        my $left = $end - time;
        return undef if $left <= 0 || !$c->fill($left);
    }
}

sub line {
    my ($c, $t) = @_;
    $c->read_until(sub { ${$_[0]} =~ s/^([^\n]*)\n// ? $1 : undef }, $t);
}

# A policy reply: its lines up to the empty one, without the last LF.
sub policy {
    my ($c, $t) = @_;
    $c->read_until(sub { ${$_[0]} =~ s/^((?:[^\n]+\n)+)\n// ? $1 =~ s/\n\z//r : undef }, $t);
}

sub netstring {
    my ($c, $t) = @_;
    $c->read_until(sub {
        my $b = shift;
        return undef unless $$b =~ /^(\d+):/;
        my ($len, $hdr) = ($1, length($1) + 1);
        return undef if length($$b) < $hdr + $len + 1;
        die "reply netstring without ','" unless substr($$b, $hdr + $len, 1) eq ',';
        my $s = substr($$b, $hdr, $len);
        substr($$b, 0, $hdr + $len + 1) = '';
        return $s;
    }, $t);
}

# Did the other side close (nothing more to read) within $timeout?
sub closed {
    my ($c, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (!$c->{eof} && time < $end) {
        last unless $c->fill($end - time);
    }
    return $c->{eof} && $c->{buf} eq '';
}

sub shutdown_write {
    my ($c) = @_;
    if ($c->{pid}) { close $c->{wfh} } else { shutdown($c->{wfh}, 1) }
}

# Close; for a process, its exit status (undef if it had to be killed).
sub finish {
    my ($c, $timeout) = @_;
    close $c->{wfh};
    close $c->{rfh} unless $c->{rfh} == $c->{wfh};
    return undef unless $c->{pid};
    my $end = time + ($timeout // 10);
    while (time < $end) {
        return $? >> 8 if waitpid($c->{pid}, WNOHANG) == $c->{pid};
        select(undef, undef, undef, 0.02);
    }
    kill 'KILL', $c->{pid};
    waitpid $c->{pid}, 0;
    return undef;
}

sub pid { $_[0]{pid} }

1;
