#!/usr/bin/perl
# `authsink test`: rules over log lines, per line what matched (user,
# address, whether the daemon would take the address) or why not, counts
# per rule, exit 0 (something matched) / 1 (nothing) / 2 (error).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $dir = temp_dir();
my $A = build_dir() . '/authsink';
my $rules = write_file("$dir/test.rules", <<'EOF');
# rules for this test only
[dove]
program = dovecot imap-login pop3-login
match   = (imap|pop3)-login: Login: user=<([^>]*)>, method=[^,]*, rip=([0-9A-Fa-f.:]+)
user    = 2
address = 3

[dove-out]
program = dovecot
host    = mx1
match   = imap\([^)]*\): Logged out rip=([0-9.]+)
address = 1
action  = logout
ttl     = 5m
EOF

# run `authsink ARGS` with LINES on stdin -> (rc, stdout, stderr)
sub t_run {
    my ($input, @args) = @_;
    my $in = write_file("$dir/in.txt", $input);
    my $pid = fork // die;
    if ($pid == 0) {
        open STDIN, '<', $in or die;
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>', "$dir/err" or die;
        exec $A, @args or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    return ($rc, Authsink::slurp("$dir/out"), Authsink::slurp("$dir/err"));
}

my $log = join '', map { "$_\n" }
    'Nov 25 06:00:00 mx1 dovecot[42]: imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1',
    '<38>1 2026-11-25T06:00:00Z mx1 dovecot 42 - - pop3-login: Login: user=<bob smith>, method=PLAIN, rip=2001:DB8:0::7, lip=::1',
    '',
    'Nov 25 06:00:01 mx1 sshd[7]: Accepted password for carol from 192.0.2.9 port 22 ssh2',
    'Nov 25 06:00:02 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<x>, rip=192.0.2.10',
    'Nov 25 06:00:03 mx1 dovecot: imap-login: Login: user=<eve>, method=PLAIN, rip=0.0.0.0, lip=127.0.0.1',
    '<999>not syslog at all',
    'Nov 25 06:00:04 mx2 dovecot: imap(alice): Logged out rip=192.0.2.7',
    'Nov 25 06:00:05 mx1 dovecot: imap(alice): Logged out rip=192.0.2.7',
    'Nov 25 06:00:06 mx1 dovecot: imap-login: Login: user=<mallory>, method=PLAIN, rip=999.1.1.1, lip=127.0.0.1';

my ($rc, $out, $err) = t_run($log, 'test', $rules);
is($rc, 0, 'something matched: exit 0');
is($err, '', 'nothing on stderr');
my @lines = split /\n/, $out;
is($lines[0], '1: match dove action=allow user=alice address=192.0.2.7 ok', 'RFC 3164 file line');
is($lines[1], '2: match dove action=allow user=bob%20smith address=2001:db8::7 ok',
    'RFC 5424 line; user %-encoded; address canonical');
is($lines[2], '4: nomatch', 'blank line skipped, numbers are input lines');
is($lines[3], '5: nomatch', 'failed login');
is($lines[4], '6: match dove action=allow user=eve address=0.0.0.0 ignored '
    . '(unspecified, multicast, broadcast or reserved address)', 'bogus address: ignored');
is($lines[5], '7: malformed (invalid PRI)', 'malformed syslog');
is($lines[6], '8: nomatch', 'host not listed');
is($lines[7], '9: match dove-out action=logout user=- address=192.0.2.7 ttl=300 ok',
    'logout rule with host and ttl');
is($lines[8], '10: match dove action=allow user=mallory address=999.1.1.1 ignored (not an IP address)',
    'capture that is no address');
is($lines[9], '-- 9 lines: 5 matched (2 with an ignored address), 3 no match, 1 malformed',
    'summary line');
is($lines[10], "-- rule dove: 4 ($rules:2)", 'count of rule dove, with file:line');
is($lines[11], "-- rule dove-out: 1 ($rules:8)", 'count of rule dove-out');
is(scalar @lines, 12, 'nothing else');

# -v: parsed fields, and why each rule did not match.
($rc, $out) = t_run($log, 'test', '-v', $rules);
like($out, qr/^4:   format=RFC3164 host=mx1 program=sshd pid=7 time=\S+$/m, '-v: parsed header');
like($out, qr/^4:   msg=Accepted password for carol from 192\.0\.2\.9 port 22 ssh2$/m, '-v: msg');
like($out, qr/^4:   - dove \(\Q$rules\E:2\): program not listed$/m, '-v: program filter');
like($out, qr/^5:   - dove \(\Q$rules\E:2\): literal prefilter absent \("-login: Login: user=<"\)$/m,
    '-v: literal prefilter, shown');
like($out, qr/^5:   - dove-out \(\Q$rules\E:8\): (literal prefilter absent|pattern did not match)/m,
    '-v: second rule explained too');
like($out, qr/^8:   - dove-out \(\Q$rules\E:8\): host not listed$/m, '-v: host filter');
like($out, qr/^9:   - dove \(\Q$rules\E:2\): .+$/m, '-v: rules before the one that matched');
unlike($out, qr/^1:   - /m, '-v: nothing missed before the first rule matched');

my $nomatch = "Nov 25 06:00:00 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.7, lip=1\n";
($rc, $out) = t_run($nomatch =~ s/Login: user/Login:  user/r, 'test', '-v', $rules);
is($rc, 1, 'nothing matched: exit 1');
like($out, qr/^1:   - dove \(\Q$rules\E:2\): (pattern did not match|literal prefilter absent)/m,
    '-v: pattern did not match');

# -q: summary only.
($rc, $out) = t_run($log, 'test', '-q', $rules);
is($rc, 0, '-q: exit 0');
unlike($out, qr/^\d+:/m, '-q: no per-line output');
like($out, qr/^-- 9 lines: 5 matched \(2 with an ignored address\)/m, '-q: summary');

# -p: bare messages of one program (a server's own log file).
($rc, $out) = t_run("imap-login: Login: user=<z>, method=PLAIN, rip=::ffff:198.51.100.4, lip=1\n"
    . "pop3-login: Login: user=<y>, method=PLAIN, rip=198.51.100.5, lip=1\n",
    'test', '-p', 'dovecot', $rules);
like($out, qr/^1: match dove action=allow user=z address=198\.51\.100\.4 ok$/m,
    '-p: a bare message; IPv4-mapped folded');
like($out, qr/^2: match dove action=allow user=y address=198\.51\.100\.5 ok$/m, '-p: next one');
($rc, $out) = t_run("imap-login: Login: user=<z>, method=PLAIN, rip=198.51.100.4, lip=1\n",
    'test', '-p', 'sshd', $rules);
is($rc, 1, '-p with another program: no match');

# -f FILE (several: FILE:N prefixes), rules from a directory.
my $f1 = write_file("$dir/a.log", $log);
my $f2 = write_file("$dir/b.log", "garbage line\n");
mkdir "$dir/rules.d";
write_file("$dir/rules.d/10-dove.rules", Authsink::slurp($rules));
write_file("$dir/rules.d/README", "not a rules file\n");
($rc, $out) = t_run('', 'test', '-f', $f1, '-f', $f2, "$dir/rules.d");
is($rc, 0, '-f twice, rules directory');
like($out, qr/^\Q$f1\E:1: match dove /m, '-f: FILE:N prefix');
like($out, qr/^\Q$f2\E:1: nomatch$/m, '-f: second file');
like($out, qr/^-- rule dove: 4 \(\Q$dir\E\/rules\.d\/10-dove\.rules:2\)$/m,
    'only *.rules files of the directory are loaded');

# Rules from the configuration's rules-dir (-c).
my $conf = write_file("$dir/authsink.conf", "rules-dir = $dir/rules.d\n"
    . "never-relay = 192.0.2.0/24\nrelay-private = no\n");
($rc, $out) = t_run("Nov 25 06:00:00 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.7, lip=1\n"
    . "Nov 25 06:00:00 mx1 dovecot: imap-login: Login: user=<b>, method=PLAIN, rip=10.0.0.1, lip=1\n",
    '-c', $conf, 'test');
like($out, qr/^1: match dove .* address=192\.0\.2\.7 ignored \(in never-relay\)$/m,
    '-c: rules-dir, and never-relay is applied');
like($out, qr/^2: match dove .* address=10\.0\.0\.1 ignored \(private address and relay-private = no\)$/m,
    '-c: relay-private = no is applied');

# The shipped rules load and recognise a stock Dovecot line.
SKIP: {
    skip 'no shipped rules.d', 1 unless -d src_dir() . '/rules.d';
    ($rc, $out) = t_run("Nov 25 06:00:00 mx dovecot[1]: " . dovecot_login('ann', '192.0.2.33') . "\n",
        'test', src_dir() . '/rules.d');
    like($out, qr/^1: match \S+ action=allow user=ann address=192\.0\.2\.33 ok$/m,
        'shipped rules.d: a Dovecot login');
}

# Errors: exit 2 and one clear line naming the problem.
my $broken = write_file("$dir/broken.rules", "[x]\nprogram = a\nmatch = (\naddress = 1\n");
($rc, $out, $err) = t_run('', 'test', $broken);
is($rc, 2, 'broken rule file: exit 2');
like($err, qr/^authsink: \Q$broken\E:\d+: /, 'broken rule file: file:line');
($rc, $out, $err) = t_run('', 'test', "$dir/nonexistent.rules");
is($rc, 2, 'missing rules file: exit 2');
like($err, qr/nonexistent\.rules: No such file/, 'missing rules file: says so');
($rc, $out, $err) = t_run('', 'test', '-f', "$dir/nonexistent.log", $rules);
is($rc, 2, 'missing log file: exit 2');
like($err, qr/cannot open .*nonexistent\.log/, 'missing log file: says so');
mkdir "$dir/empty";
($rc, $out, $err) = t_run('', 'test', "$dir/empty");
is($rc, 2, 'no rules at all: exit 2');
($rc, $out, $err) = t_run('', 'test', '-x', $rules);
is($rc, 2, 'unknown option: exit 2');

done_testing;
