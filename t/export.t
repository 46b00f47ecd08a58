#!/usr/bin/perl
# Text export: `authsink export` and authsinkd's `export = PATH`: live
# addresses only, one per line, in a format a real reader accepts (Exim
# iplsearch is tried when Exim is installed), replaced atomically.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkProto;
use Time::HiRes qw(sleep);

sub slurp_file { my ($f) = @_; open my $h, '<', $f or return undef; local $/; <$h> }

my $dir = private_dir();
my $d = new_table(dir => $dir, add => [['192.0.2.7'], ['2001:db8::7'],
    ['10.1.2.3'], ['198.51.100.1', '--ttl', '1']]);
my @t = ('-t', $d->{table});
sleep 1.1;	# 198.51.100.1 has expired

my %want = (
    plain => "10.1.2.3\n192.0.2.7\n2001:db8::7\n",
    exim => "10.1.2.3\n192.0.2.7\n\"2001:db8::7\"\n",
    postfix => "10.1.2.3 OK\n192.0.2.7 OK\n2001:db8::7 OK\n",
    mynetworks => "10.1.2.3\n192.0.2.7\n[2001:db8::7]\n",
    sendmail => "10.1.2.3\n192.0.2.7\nIPv6:2001:db8::7\n",
);
for my $fmt (sort keys %want) {
    my ($rc, $out, $err) = authsink(@t, 'export', '--format', $fmt, '-');
    is($rc, 0, "export --format $fmt -: exit 0");
    is($out, $want{$fmt}, "$fmt: live entries only, sorted, formatted");
}
my ($rc, $out, $err) = authsink(@t, 'export', '-');
is($out, $want{plain}, 'plain is the default');

# To a file: atomic replacement, mode 0644 whatever the umask.
my $file = "$dir/relay.txt";
write_file($file, "old content\n");
my $ino = (stat $file)[1];
{
    my $old = umask 077;
    ($rc, $out, $err) = authsink(@t, 'export', $file);
    umask $old;
}
is($rc, 0, 'export FILE: exit 0');
is($out . $err, '', 'export FILE: quiet');
is(slurp_file($file), $want{plain}, 'export FILE: content');
isnt((stat $file)[1], $ino, 'export FILE: replaced by rename, not rewritten in place');
is((stat $file)[2] & 07777, 0644, 'export FILE: mode 0644 despite umask 077');
opendir my $dh, $dir or die;
is_deeply([grep { /^\.authsink-export/ } readdir $dh], [], 'no temporary file left behind');

# Errors: exit 2, one line, and an existing file is left as it was.
for my $case (
    [['--format', 'csv', $file], 'unknown format'],
    [[], 'no file'],
    [[$file, 'extra'], 'two files'],
    [["$dir/no/such/dir/relay.txt"], 'directory missing'],
) {
    my ($args, $what) = @$case;
    ($rc, $out, $err) = authsink(@t, 'export', @$args);
    is($rc, 2, "$what: exit 2");
    like($err, qr/^authsink: .+\n\z/, "$what: one error line");
}
($rc, $out, $err) = authsink('-t', "$dir/missing.tdb", 'export', $file);
is($rc, 2, 'missing table: exit 2');
is(slurp_file($file), $want{plain}, 'missing table: the old export is untouched');
ok(!-e "$dir/missing.tdb", 'missing table: not created');

# Exim reads the exim format with iplsearch, IPv6 included.
SKIP: {
    my ($exim) = grep { -x } map { ("$_/exim4", "$_/exim") }
        split(/:/, $ENV{PATH}), '/usr/sbin';
    Test::More::BAIL_OUT('exim (exim4-daemon-heavy) is required in CI')
        if !$exim && in_ci();
    skip 'exim not installed', 12 unless $exim;
    authsink(@t, 'export', '--format', 'exim', "$dir/exim.txt");
    authsink(@t, 'export', "$dir/plain.txt");
    my $be = sub {
        my ($expr) = @_;
        my ($rc, $out, $err) = run_cmd($exim, '-C', '/dev/null', '-be', $expr);
        return "$out$err" =~ s/\n\z//r;
    };
    for my $case (['192.0.2.7', 'yes'], ['2001:db8::7', 'yes'],
            ['::ffff:192.0.2.7', 'yes'], ['192.0.2.8', 'no'],
            ['2001:db8::8', 'no'], ['198.51.100.1', 'no']) {
        my ($ip, $want) = @$case;
        is($be->("\${lookup{$ip}iplsearch{$dir/exim.txt}{yes}{no}}"), $want,
            "exim iplsearch: $ip -> $want");
        is($be->("\${if match_ip{$ip}{<, net-iplsearch;$dir/exim.txt}{yes}{no}}"),
            $want, "exim match_ip net-iplsearch: $ip -> $want");
    }
}

# --- the daemon keeps its export file up to date ---
my $d2 = start_daemon(extra => "export = $dir/daemon.txt\nexport-format = exim\n"
    . "sweep-interval = 1s\n");
my @t2 = ('-t', $d2->{table});
ok(wait_until(sub { defined slurp_file("$dir/daemon.txt") }, 10),
    'authsinkd writes its export file at start');
is(slurp_file("$dir/daemon.txt"), '', 'an empty table exports an empty file');

send_udp($d2->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('alice', '2001:db8::1'));
ok(wait_until(sub { (slurp_file("$dir/daemon.txt") // '') eq "\"2001:db8::1\"\n" }, 10),
    'after a login commit the export lists the address (export-format exim)');
my @st = stat "$dir/daemon.txt";
is($st[2] & 07777, 0644, 'daemon export: mode 0644');

# A second login of the same address changes no line: no rewrite.
send_udp($d2->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('alice', '2001:db8::1'));
sleep 0.5;
is((stat "$dir/daemon.txt")[1], $st[1], 'an unchanged list is not rewritten');

# Written by `authsink add` (not the daemon): picked up at the next sweep.
authsink(@t2, 'add', '192.0.2.50', '--ttl', '2');
ok(wait_until(sub { (slurp_file("$dir/daemon.txt") // '') =~ /^192\.0\.2\.50$/m }, 10),
    'an entry added by hand appears after the next sweep');
ok(wait_until(sub { (slurp_file("$dir/daemon.txt") // '') !~ /192\.0\.2\.50/ }, 10),
    'and disappears when it expires');

# Removed behind the daemon's back: written again.
unlink "$dir/daemon.txt";
ok(wait_until(sub { defined slurp_file("$dir/daemon.txt") }, 10),
    'a deleted export file is written again');

# A reload with a new export path and format writes the new file at once,
# not at the next commit or sweep (default sweep-interval: 60s).
{
    my $d4 = start_daemon(extra => "export = $dir/before.txt\nexport-format = exim\n");
    send_udp($d4->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('carol', '2001:db8::4'));
    ok(wait_until(sub { (slurp_file("$dir/before.txt") // '') eq "\"2001:db8::4\"\n" }, 10),
        'reload: the first export lists the login');
    my $conf = Authsink::slurp($d4->{conf});
    $conf =~ s{^export = .*$}{export = $dir/reloaded.txt}m or die;
    $conf =~ s{^export-format = exim$}{export-format = plain}m or die;
    write_file($d4->{conf}, $conf);
    kill 'HUP', $d4->{pid};
    ok(wait_until(sub { (slurp_file("$dir/reloaded.txt") // '') eq "2001:db8::4\n" }, 10),
        'SIGHUP with a new export path: the new file is written at once, in the new format');
    is(Authsink::stop_daemon($d4), 0, 'reload: clean exit');
}

# An export file the daemon cannot write is an error in the log, not a crash.
{
    my $d3 = start_daemon(extra => "export = $dir/nonexistent/relay.txt\n");
    send_udp($d3->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('bob', '192.0.2.60'));
    ok(wait_until(sub { (authsink('-t', $d3->{table}, 'check', '192.0.2.60'))[0] == 0 }, 10),
        'unwritable export: logins are still recorded');
    like(Authsink::slurp($d3->{log}), qr/cannot create a temporary file in \Q$dir\E\/nonexistent/,
        'unwritable export: logged');
    is(Authsink::stop_daemon($d3), 0, 'unwritable export: clean exit');
}

# The configuration checks the format.
{
    my $conf = write_file("$dir/bad.conf", "export = $dir/x.txt\nexport-format = csv\n");
    my ($rc, $out, $err) = run_cmd(build_dir() . '/authsinkd', '-t', '-c', $conf);
    is($rc, 1, 'export-format = csv: authsinkd -t fails');
    like("$out$err", qr/bad\.conf:2: .*export-format/, 'export-format = csv: file:line');
}

done_testing;
