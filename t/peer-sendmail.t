#!/usr/bin/perl
# Sendmail decides, in address test mode: a .cf built with Sendmail's own
# cf.m4 from a minimal .mc and one of the contrib/sendmail fragments, then
# `sendmail -C CF -bt` runs check_rcpt with {client_addr} set, as for an
# SMTP client. Relaying must be accepted ($# OK) exactly for live entries.
# Sendmail conflicts with Exim as a package: `.ci/deps sendmail` unpacks
# it into /opt/authsink-peers/sendmail (see .ci/unpack-mta).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep);

my $m4 = need_program('m4', 'm4');
my ($sendmail, $cfdir);
for my $root (map({ "$_/sendmail" } grep { defined } $ENV{AUTHSINK_PEERS},
        '/opt/authsink-peers'), '') {
    next unless -x "$root/usr/libexec/sendmail/sendmail"
        && -f "$root/usr/share/sendmail/cf/m4/cf.m4";
    ($sendmail, $cfdir) = ("$root/usr/libexec/sendmail/sendmail", "$root/usr/share/sendmail/cf");
    last;
}
need_peer($sendmail, 'Sendmail (as root: sh .ci/deps sendmail, which unpacks '
    . 'sendmail-bin and sendmail-cf into /opt/authsink-peers/sendmail)');

# Sendmail sleeps a minute at start when the host name is unqualified and
# does not resolve as it likes: give it a qualified one in a private UTS
# namespace (needs root).
my @wrap;
if (`hostname` !~ /\./) {
    @wrap = ('unshare', '-u', 'sh', '-c', 'hostname mx.example.org && exec "$@"', 'sh');
    need_peer((run_cmd(@wrap, 'true'))[0] == 0,
        'a qualified host name for Sendmail (unshare -u as root)');
}

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7'], ['2001:db8::7'],
    ['198.51.100.1', '--ttl', '1']]);
my @t = ('-t', $d->{table});
my $port = free_port();
my $serve = start_serve($dir, @t, 'serve', "socketmap:tcp:127.0.0.1:$port");
my $export = "$dir/relay.txt";
sleep 1.1;	# 198.51.100.1 has expired
my ($rc, $out, $err) = authsink(@t, 'export', '--format', 'sendmail', $export);
is($rc, 0, 'export --format sendmail');
is(Authsink::slurp($export), "192.0.2.7\nIPv6:2001:db8::7\n", 'the class file');

# The .cf: OSTYPE, mailers, then the shipped fragment.
sub build_cf {
    my ($name, @subst) = @_;
    my $frag = write_file("$dir/authsink-$name.m4", contrib_text("sendmail/authsink-$name.m4", @subst));
    my $mc = write_file("$dir/$name.mc", "divert(-1)\ndivert(0)dnl\n"
        . "OSTYPE(`linux')dnl\ndefine(`confDONT_PROBE_INTERFACES', `True')dnl\n"
        . "MAILER(`local')dnl\nMAILER(`smtp')dnl\ninclude(`$frag')dnl\n");
    my ($rc, $cf, $err) = run_cmd($m4, "-D_CF_DIR_=$cfdir/", "$cfdir/m4/cf.m4", $mc);
    is($rc, 0, "$name: cf.m4 builds a .cf") or diag($err);
    return write_file("$dir/$name.cf", $cf);
}
my %cf = (
    socketmap => build_cf('socketmap', 'inet:10027@127.0.0.1' => "inet:$port\@127.0.0.1"),
    fclass => build_cf('fclass', '/var/lib/authsink/relay.txt' => $export),
);

# check_rcpt for a client address -> what the ruleset returns.
sub check_rcpt {
    my ($cf, $client) = @_;
    my $in = write_file("$dir/bt.in", ".D{client_addr}$client\n.D{client_name}client.test\n"
        . "check_rcpt <someone\@foreign.example.net>\n");
    # The temp dir lives under /tmp, which Sendmail calls an unsafe path.
    my $pid = open(my $fh, '-|') // die;
    if ($pid == 0) {
        open STDIN, '<', $in or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @wrap, $sendmail, '-C', $cf, '-O', 'DontBlameSendmail=ClassFileInUnsafeDirPath',
            '-bt' or POSIX::_exit(127);
    }
    my $all = do { local $/; <$fh> };
    close $fh;
    return $all =~ /^check_rcpt\s+returns: (.*)$/m ? $1 : "no result: $all";
}

my $OK = qr/^\$# OK$/;
my $DENIED = qr/550 Relaying denied/;
my $TEMP = qr/\$# error \$@ 4 \. 3 \. 0 .*451/;
for my $m (qw(socketmap fclass)) {
    like(check_rcpt($cf{$m}, '192.0.2.7'), $OK, "$m: live IPv4 client relays");
    like(check_rcpt($cf{$m}, 'IPv6:2001:db8::7'), $OK, "$m: live IPv6 client relays");
    like(check_rcpt($cf{$m}, '192.0.2.8'), $DENIED, "$m: unknown client denied");
    like(check_rcpt($cf{$m}, 'IPv6:2001:db8::8'), $DENIED, "$m: unknown IPv6 client denied");
    like(check_rcpt($cf{$m}, '198.51.100.1'), $DENIED, "$m: expired entry denied");
}

# socketmap: changes are seen at once; failures are temporary.
authsink(@t, 'add', '203.0.113.9');
like(check_rcpt($cf{socketmap}, '203.0.113.9'), $OK, 'socketmap: a new entry relays at once');
authsink(@t, 'del', '192.0.2.7');
like(check_rcpt($cf{socketmap}, '192.0.2.7'), $DENIED, 'socketmap: a deleted entry at once');
rename $d->{table}, "$d->{table}.away" or die;
like(check_rcpt($cf{socketmap}, '2001:db8::7'), $TEMP, 'socketmap: table missing: 451');
rename "$d->{table}.away", $d->{table} or die;
stop_peer($serve);
like(check_rcpt($cf{socketmap}, 'IPv6:2001:db8::7'), $TEMP, 'socketmap: no reader: 451');

# F class: a missing file is an empty class.
unlink $export;
like(check_rcpt($cf{fclass}, '192.0.2.7'), $DENIED, 'fclass: missing file: nobody relays');

done_testing;
