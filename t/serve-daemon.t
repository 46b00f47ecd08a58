#!/usr/bin/perl
# authsink serve beside a real authsinkd: serve is a reader of its own, so
# it stays up when the daemon stops, restarts or is killed, and the
# connections MTAs keep open to it see the logins the daemon records
# afterwards. When the daemon recreates its table (removed, replaced,
# rescued after corruption), serve follows the new file; while the file is
# unreadable it fails temporarily, never "yes".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep);

my $dir = private_dir();
my $d = start_daemon(dir => $dir, listen => ['udp:127.0.0.1:' . free_port()]);
($d->{udp}) = Authsink::slurp($d->{conf}) =~ /udp:127\.0\.0\.1:(\d+)/;
my @t = ('-t', $d->{table});
my ($line, $map, $pol) = map { "$dir/$_.sock" } qw(line map policy);
my $serve = start_serve($dir, @t, 'serve', "line:unix:$line",
    "socketmap:unix:$map", "policy:unix:$pol");

# One persistent connection per protocol, kept for the whole test, as
# Postfix keeps its socketmap and policy connections.
my %c = (line => unix_conn($line), socketmap => unix_conn($map),
    policy => unix_conn($pol));

# ask(ADDR) -> { line => yes|no|error, socketmap => ..., policy => ... }
sub ask {
    my ($addr) = @_;
    my %r;
    $c{line}->send("$addr\n");
    my $l = $c{line}->line // 'no reply';
    $r{line} = $l =~ /^(yes|no)$/ ? $1 : $l =~ /^error / ? 'error' : "?$l";
    $c{socketmap}->send(netstring("relay $addr"));
    my $m = $c{socketmap}->netstring // 'no reply';
    $r{socketmap} = $m eq 'OK OK' ? 'yes' : $m eq 'NOTFOUND ' ? 'no'
        : $m =~ /^TEMP / ? 'error' : "?$m";
    $c{policy}->send(policy_request(client_address => $addr));
    my $p = $c{policy}->policy // 'no reply';
    $r{policy} = $p eq 'action=OK' ? 'yes' : $p eq 'action=DUNNO' ? 'no'
        : $p =~ /^action=DEFER_IF_REJECT / ? 'error' : "?$p";
    return \%r;
}
sub all_say {
    my ($addr, $want) = @_;
    my $r = ask($addr);
    return !grep { $r->{$_} ne $want } keys %$r;
}
sub answers { my $r = ask($_[0]); join ' ', map { "$_=$r->{$_}" } sort keys %$r }
sub login {
    my ($user, $addr) = @_;
    send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login($user, $addr));
}
# A login the daemon records is seen through the same connections.
sub seen {
    my ($addr, $what) = @_;
    ok(wait_until(sub { all_say($addr, 'yes') }, 10),
        "$what: $addr is live on all three connections")
        or diag(answers($addr));
}
sub serving {
    my ($what) = @_;
    ok(kill(0, $serve->{pid}), "$what: serve still running");
}

login('alice', '192.0.2.1');
seen('192.0.2.1', 'a login');
is(answers('192.0.2.99'), 'line=no policy=no socketmap=no', 'an unknown address: no');

# --- the daemon stops: entries stay valid, serve keeps answering ---
Authsink::stop_daemon($d);
serving('authsinkd stopped');
is(answers('192.0.2.1'), 'line=yes policy=yes socketmap=yes',
    'authsinkd stopped: the same connections still answer yes');

# --- and comes back: a login after the restart is seen ---
Authsink::restart_daemon($d);
login('bob', '192.0.2.2');
seen('192.0.2.2', 'after a restart of authsinkd');
is(answers('192.0.2.1'), 'line=yes policy=yes socketmap=yes', '  the earlier login too');

# --- killed with -9 and restarted ---
kill 'KILL', $d->{pid};
waitpid $d->{pid}, 0;
delete $d->{pid};
serving('authsinkd killed');
is(answers('192.0.2.2'), 'line=yes policy=yes socketmap=yes', 'authsinkd killed: still answered');
Authsink::restart_daemon($d);
login('carol', '192.0.2.3');
seen('192.0.2.3', 'after kill -9 and a restart');

# --- the table removed: the daemon recreates it at its next commit ---
unlink $d->{table} or die;
is(answers('192.0.2.1'), 'line=error policy=error socketmap=error',
    'table removed: temporary failure, not yes');
login('dave', '192.0.2.4');
seen('192.0.2.4', 'table recreated by authsinkd');
is(answers('192.0.2.1'), 'line=no policy=no socketmap=no',
    '  entries of the removed file are gone (serve reads the new one)');

# --- replaced by garbage: never yes; then the daemon's new file is read ---
write_file("$d->{table}.new", "this is not a tdb file\n" x 300);
rename "$d->{table}.new", $d->{table} or die;
is(answers('192.0.2.4'), 'line=error policy=error socketmap=error',
    'table replaced by garbage: temporary failure');
login('erin', '192.0.2.5');
seen('192.0.2.5', 'garbage replaced by authsinkd');

# --- corrupted in place: the daemon's sweep rescues it into a new file ---
login('frank', '192.0.2.6');
seen('192.0.2.6', 'before the corruption');
my $ino = (stat $d->{table})[1];
{
    open my $f, '+<', $d->{table} or die;
    seek $f, 2000, 0;
    print $f "\xff" x 4000;
    close $f;
}
kill 'ALRM', $d->{pid};
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /was corrupt: \d+ entries rescued/ }, 10),
    'corrupted in place: authsinkd rescues it');
isnt((stat $d->{table})[1], $ino, '  into a new file');
login('gina', '192.0.2.7');
seen('192.0.2.7', 'the rescued table');
serving('after all that');
like(Authsink::slurp("$dir/serve.log"), qr/was replaced, reopening/,
    'serve logs that it reopened the table');

$_->finish for values %c;
is(stop_peer($serve), 0, 'serve exits 0 on SIGTERM');

done_testing;
