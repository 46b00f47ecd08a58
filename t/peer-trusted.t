#!/usr/bin/perl
# Forged logins against trusted metadata. Any local user can write
# "dovecot: imap-login: Login: ... rip=X" into /dev/log. With rsyslog's
# trusted properties (contrib/rsyslog/authsink-trusted.conf) and a rule
# that requires the writer's uid (contrib/rsyslog/dovecot-trusted.rules),
# a real Dovecot login relays and forged lines relay nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkDovecot;
use POSIX qw(:sys_wait_h);

my $logger = need_program('logger', 'bsdutils');
need_dovecot();

# The trusted rule must stay the shipped Dovecot rule plus `require`.
my $shipped = Authsink::slurp(src_dir() . '/rules.d/dovecot.rules');
my $trusted = Authsink::slurp(src_dir() . '/contrib/rsyslog/dovecot-trusted.rules');
my ($stanza) = $shipped =~ /^\[dovecot-login\]\n(.*?)(?:\n\n|\z)/ms;
for my $key (qw(program match user address)) {
    my ($want) = $stanza =~ /^$key\s*=\s*(.*)$/m;
    my ($got) = $trusted =~ /^$key\s*=\s*(.*)$/m;
    is($got, $want, "dovecot-trusted.rules has the shipped $key");
}

my $dir = private_dir();
my $rules = "$dir/rules";
mkdir $rules or die;
write_file("$rules/dovecot-trusted.rules", $trusted);
my $d = start_daemon(dir => $dir, rules => $rules);
my @t = ('-t', $d->{table});
sub allowed { relayed($d, $_[0]) }

my $rsdir = "$dir/rsyslog";
mkdir $rsdir or die;
my $devlog = "$rsdir/devlog";
start_rsyslog(dir => $rsdir, conf => <<"EOC"
global(workDirectory="$rsdir")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$devlog" annotate="on" parseTrusted="on")
EOC
    . contrib_text('rsyslog/authsink-trusted.conf', '/run/authsink/log.sock' => $d->{sock}),
    ready => sub { -S $devlog });
chmod 0666, $devlog;
start_dovecot($dir, $devlog);

# Forgeries, as an ordinary user, through the same /dev/log.
my $forged = 0;
for my $i (1 .. 20) {
    my $pid = fork // die;
    if ($pid == 0) {
        $) = "65534 65534"; $( = 65534; $< = $> = 65534;
        exec($logger, '-u', $devlog, '-p', 'mail.info', '-t', 'dovecot',
            "imap-login: Login: user=<evil>, method=PLAIN, rip=203.0.113.$i, "
            . "lip=127.0.0.1, mpid=1, session=<x>") or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    $forged++ if $? == 0;
}
is($forged, 20, '20 forged Dovecot login lines written by nobody');

like(imap_login('127.0.0.33', 'alice', 'wonderland'), qr/^a1 OK/, 'real IMAP login');
ok(wait_until(sub { allowed('127.0.0.33') }, 10),
    'the real login, vouched for by rsyslog, relays')
    or diag(Authsink::slurp($d->{log}));
my $relayed = grep { allowed("203.0.113.$_") } 1 .. 20;
is($relayed, 0, 'forged lines relayed nothing');

unlink "$d->{dir}/authsinkd.dump";
kill 'USR1', $d->{pid};
wait_until(sub { -s "$d->{dir}/authsinkd.dump" });
my $dump = Authsink::slurp("$d->{dir}/authsinkd.dump");
my ($received) = $dump =~ /^received (\d+)/m;
cmp_ok($received, '>=', 21, 'the forged lines did reach authsinkd') or diag($dump);
like($dump, qr/^rule dovecot-login-trusted 1$/m, 'exactly one line matched the trusted rule');

done_testing;
