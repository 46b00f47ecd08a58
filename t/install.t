#!/usr/bin/perl
# make install DESTDIR=... PREFIX=...: binaries, man pages, rules, an
# example configuration that a reinstall leaves alone, systemd units with
# this installation's paths and the hardening DESIGN.md asks for, the
# sysusers.d entry, the contrib snippets.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;

my $make = need_program('make', 'make');
my $src = src_dir();
my $B = build_dir();

sub slurp_file { my ($f) = @_; open my $h, '<', $f or return undef; local $/; <$h> }

# The binaries of this build, never rebuilt here (-o): `make asan` builds
# with other flags.
sub install_into {
    my ($dest, @vars) = @_;
    local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    return run_cmd($make, '-s', '-C', $src, "B=$B", '-o', "$B/authsinkd", '-o', "$B/authsink",
        'install', "DESTDIR=$dest", @vars);
}

my $d = temp_dir();
my ($rc, $out, $err) = install_into($d, 'PREFIX=/usr');
is($rc, 0, 'make install DESTDIR PREFIX=/usr') or diag($out, $err);

for my $bin ("$d/usr/sbin/authsinkd", "$d/usr/bin/authsink") {
    ok(-f $bin && -x _, "$bin installed, executable");
    like((run_cmd($bin, '-V'))[1], qr/^authsinkd? \d+\.\d+/, "$bin -V runs");
}
for my $page (qw(man1/authsink.1 man5/authsink.conf.5 man8/authsinkd.8)) {
    ok(-f "$d/usr/share/man/$page", "man page $page");
    is((stat _)[2] & 07777, 0644, "$page mode 0644");
}
my @rules = glob("$src/rules.d/*.rules");
ok(@rules > 0, 'the source has rules');
ok(-f "$d/etc/authsink/rules.d/" . ($_ =~ s{.*/}{}r), "rule file $_ installed") for @rules;
my $conf = "$d/etc/authsink/authsink.conf";
is(slurp_file($conf), slurp_file("$src/contrib/authsink.conf"), 'example configuration');
($rc) = run_cmd("$d/usr/sbin/authsinkd", '-t', '-c', write_file("$d/t.conf",
    slurp_file($conf) . "rules-dir = $d/etc/authsink/rules.d\n"));
is($rc, 0, 'the installed configuration and rules pass authsinkd -t');

# A reinstall keeps the administrator's configuration.
write_file($conf, "# mine\n");
($rc, $out, $err) = install_into($d, 'PREFIX=/usr');
is($rc, 0, 'reinstall');
is(slurp_file($conf), "# mine\n", 'reinstall keeps an existing authsink.conf');

# systemd
my $units = "$d/usr/lib/systemd/system";
my $svc = slurp_file("$units/authsinkd.service") // '';
ok($svc ne '', 'authsinkd.service installed');
for my $line ('User=authsink', 'RuntimeDirectory=authsink', 'StateDirectory=authsink',
        'ProtectSystem=strict', 'NoNewPrivileges=yes',
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'ExecStart=/usr/sbin/authsinkd -f -c /etc/authsink/authsink.conf') {
    like($svc, qr/^\Q$line\E$/m, "authsinkd.service: $line");
}
for my $u (qw(authsink-serve.service authsink-policy.socket authsink-policy@.service
        authsink-socketmap.socket authsink-socketmap@.service)) {
    ok(-f "$units/$u", "$u installed");
}
like(slurp_file("$units/authsink-policy\@.service") // '', qr/^StandardInput=socket$/m,
    'policy@.service: the connection is standard input');
like(slurp_file("$units/authsink-policy.socket") // '', qr/^Accept=yes$/m,
    'policy.socket: Accept=yes');
like(slurp_file("$d/usr/lib/sysusers.d/authsink.conf") // '', qr/^u authsink /m,
    'sysusers.d creates the authsink user');
for my $f (qw(postfix/master.cf postfix/main.cf sendmail/authsink-socketmap.m4
        sendmail/authsink-fclass.m4 exim/authsink-export.acl exim/authsink-readsocket.acl)) {
    ok(-f "$d/usr/share/doc/authsink/contrib/$f", "doc: contrib/$f");
}

# Units name the binaries where this installation put them.
my $d2 = temp_dir();
($rc, $out, $err) = install_into($d2, 'PREFIX=/opt/as', 'SYSCONFDIR=/opt/as/etc');
is($rc, 0, 'make install PREFIX=/opt/as SYSCONFDIR=/opt/as/etc') or diag($out, $err);
my $svc2 = slurp_file("$d2/opt/as/lib/systemd/system/authsinkd.service") // '';
like($svc2, qr{^ExecStart=/opt/as/sbin/authsinkd -f -c /opt/as/etc/authsink/authsink\.conf$}m,
    'authsinkd.service follows PREFIX and SYSCONFDIR');
like(slurp_file("$d2/opt/as/lib/systemd/system/authsink-serve.service") // '',
    qr{^ExecStart=/opt/as/bin/authsink -c /opt/as/etc/authsink/authsink\.conf serve}m,
    'authsink-serve.service follows PREFIX');
ok(-x "$d2/opt/as/bin/authsink" && -f "$d2/opt/as/share/man/man1/authsink.1",
    'binaries and man pages under PREFIX');

# systemd itself accepts the units (where systemd-analyze is installed),
# with the binaries pointed at this installation.
SKIP: {
    my ($sa) = grep { -x } map { "$_/systemd-analyze" } split(/:/, $ENV{PATH});
    skip 'systemd-analyze not installed', 1 unless $sa;
    my $check = temp_dir();
    for my $f (glob("$units/*")) {
        my $text = slurp_file($f);
        $text =~ s{/usr/(s?bin)/authsink}{$d/usr/$1/authsink}g;
        write_file("$check/" . ($f =~ s{.*/}{}r), $text);
    }
    my ($rc, $out, $err) = run_cmd($sa, 'verify', '--man=no', glob("$check/*"));
    my @problems = grep { /\S/ } split /\n/, "$out$err";
    is_deeply(\@problems, [], 'systemd-analyze verify finds nothing') or diag(join "\n", @problems);
}

done_testing;
