#!/usr/bin/perl
# Postfix SMTP access policy delegation: `authsink policy` on a pipe (as
# spawn(8) runs it) and `authsink serve policy:...` on sockets. Requests
# are what Postfix 3.7 sends; malformed ones get an error reply and the
# connection goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep);

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7'], ['2001:db8::7'],
    ['198.51.100.1', '--ttl', '1']]);
my @t = ('-t', $d->{table});
my $port = free_port();
my $sock = "$dir/policy.sock";
my $serve = start_serve($dir, @t, 'serve', '--action', 'PREPEND X-Relay: authsink',
    "policy:unix:$sock", "policy:tcp:127.0.0.1:$port");
sleep 1.1;	# 198.51.100.1 has expired

my $DEFER = qr/^action=DEFER_IF_REJECT authsink: /;
my %kinds = (
    stdio => [sub { stdio_conn(@t, 'policy') }, 'OK'],
    unix => [sub { unix_conn($sock) }, 'PREPEND X-Relay: authsink'],
    tcp => [sub { tcp_conn('127.0.0.1', $port) }, 'PREPEND X-Relay: authsink'],
);

for my $kind (sort keys %kinds) {
    my ($open, $action) = @{ $kinds{$kind} };
    my $c = $open->();
    my $ask = sub { $c->send(policy_request(@_)); $c->policy };

    is($ask->(client_address => '192.0.2.7'), "action=$action", "$kind: live IPv4 client");
    is($ask->(client_address => '2001:db8::7'), "action=$action", "$kind: live IPv6 client");
    is($ask->(client_address => '::ffff:192.0.2.7'), "action=$action", "$kind: IPv4-mapped");
    is($ask->(client_address => '192.0.2.8'), 'action=DUNNO', "$kind: unknown client");
    is($ask->(client_address => '198.51.100.1'), 'action=DUNNO', "$kind: expired entry");
    is($ask->(client_address => ''), 'action=DUNNO', "$kind: empty client_address");
    is($ask->(client_address => 'unknown'), 'action=DUNNO', "$kind: not an address");
    is($ask->(client_address => '192.0.2.7', protocol_state => 'DATA'),
        "action=$action", "$kind: any protocol state");
    is($ask->(client_address => '192.0.2.7', request => undef), "action=$action",
        "$kind: a request without request= is still answered");
    is($ask->(client_address => '192.0.2.7', future_attribute => 'x=y'),
        "action=$action", "$kind: unknown attributes are ignored");

    # Malformed: an error reply, then the next request is answered.
    my @bad = (
        ["request=smtpd_access_policy\nclient_address=192.0.2.7\nno equals sign\n\n",
            "line without '='"],
        ["request=smtpd_access_policy\n=192.0.2.7\n\n", 'attribute without a name'],
        ["request=smtpd_access_policy\nclient_address=192.0.2.7\nclient_address=192.0.2.8\n\n",
            'client_address twice'],
        ["request=smtpd_access_policy\nsender=a\@b\n\n", 'no client_address'],
        ["request=junk\nclient_address=192.0.2.7\n\n", 'request is not smtpd_access_policy'],
        ["\n", 'empty request'],
        ["request=smtpd_access_policy\nclient_address=192.0.2.7\nccert_subject="
            . ('x' x 9000) . "\n\n", 'attribute line longer than 8192 bytes'],
        ["request=smtpd_access_policy\nclient_address=192.0.2.7\n"
            . join('', map { "a$_=b\n" } 1 .. 300) . "\n", 'more than 256 attributes'],
        ["request=smtpd_access_policy\nclient_address=192.0.2.7\n\0\n\n", 'a NUL byte line'],
    );
    for my $b (@bad) {
        my ($bytes, $what) = @$b;
        $c->send($bytes);
        like($c->policy, $DEFER, "$kind: $what: DEFER_IF_REJECT reply");
        is($ask->(client_address => '192.0.2.7'), "action=$action",
            "$kind: $what: next request answered");
    }

    # CRLF line ends (a person with telnet) are accepted.
    $c->send("request=smtpd_access_policy\r\nclient_address=192.0.2.7\r\n\r\n");
    is($c->policy, "action=$action", "$kind: CRLF");

    # Split anywhere; two requests in one write.
    my $req = policy_request(client_address => '192.0.2.7')
        . policy_request(client_address => '192.0.2.8');
    for my $i (0 .. length($req) - 1) {
        $c->send(substr($req, $i, 1));
        sleep 0.001 if $i % 50 == 0;
    }
    is($c->policy, "action=$action", "$kind: byte by byte");
    is($c->policy, 'action=DUNNO', "$kind: second request of the same write");

    # Half a request, then EOF: no reply, clean exit.
    $c->send("request=smtpd_access_policy\nclient_address=192.0.2.7\n");
    $c->shutdown_write;
    ok($c->closed, "$kind: EOF in a request: closed without a reply");
    my $status = $c->finish;
    is($status, 0, "$kind: exit 0") if $kind eq 'stdio';
}

# Replies are sent at once (spawn(8): Postfix waits for each one).
{
    my $c = stdio_conn(@t, 'policy', '--action', 'OK relayed by authsink');
    $c->send(policy_request(client_address => '192.0.2.7'));
    is($c->policy(5), 'action=OK relayed by authsink', 'stdio: --action, reply before EOF');
    is($c->finish, 0, 'stdio: exit 0');
}
is((authsink(@t, 'policy', '--action', ''))[0], 2, 'an empty --action is refused');
is((authsink(@t, 'policy', 'extra'))[0], 2, 'a stray argument is refused');

# Table unavailable: DEFER_IF_REJECT, never OK/DUNNO; the same connection
# recovers when the table is back.
for my $kind (sort keys %kinds) {
    my ($open, $action) = @{ $kinds{$kind} };
    my $c = $open->();
    rename $d->{table}, "$d->{table}.away" or die;
    $c->send(policy_request(client_address => '192.0.2.7'));
    like($c->policy, qr/^action=DEFER_IF_REJECT authsink: relay table unavailable$/,
        "$kind: table missing: DEFER_IF_REJECT");
    $c->send(policy_request(client_address => '192.0.2.8'));
    like($c->policy, $DEFER, "$kind: table missing: unknown clients deferred too");
    rename "$d->{table}.away", $d->{table} or die;
    $c->send(policy_request(client_address => '192.0.2.7'));
    is($c->policy, "action=$action", "$kind: table back: answered again");
    $c->finish;
}

# A policy client that never reads its replies is dropped by serve, and
# serve keeps answering others.
{
    my $c = unix_conn($sock);
    my $req = policy_request(client_address => '192.0.2.7') x 2000;
    $c->send($req) for 1 .. 5;
    my $other = unix_conn($sock);
    $other->send(policy_request(client_address => '192.0.2.7'));
    is($other->policy, 'action=PREPEND X-Relay: authsink', 'serve answers others meanwhile');
    $other->finish;
    $c->finish;
}

is(stop_peer($serve), 0, 'serve exits 0 on SIGTERM');
ok(!-e $sock, 'serve removed its socket');

done_testing;
