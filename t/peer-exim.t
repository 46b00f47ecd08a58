#!/usr/bin/perl
# Exim decides: a private Exim configuration made of the shipped
# contrib/exim/ snippets accepts relaying (RCPT to a foreign domain) from
# an address that logged in, refuses it from any other and again after the
# login's ttl, both with the in-process ${dlfunc} module and with
# ${run{authsink check ...}}. `exim -C CONF -bh ADDR` runs each SMTP
# session as if from ADDR, without a daemon. A table that cannot be read,
# or a lock held past the module's timeout, defers (451), never relays.
# (${readsocket} on `authsink serve` and the exported list: t/exim-lists.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use AuthsinkExim;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $exim = need_program('exim4', 'exim4-daemon-heavy');
my $logger = need_program('logger', 'bsdutils');
my $tdbtool = need_program('tdbtool', 'tdb-tools');
need_peer(`$exim -bV 2>&1` =~ /\bExpand_dlfunc\b/,
    'an Exim with ${dlfunc} (apt-get install exim4-daemon-heavy)');
need_peer(-f '/usr/include/exim4/local_scan.h' || -f '/usr/include/exim/local_scan.h',
    "Exim's local_scan.h (apt-get install exim4-dev)");
need_peer(-x '/usr/bin/python3' && system('/usr/bin/python3', '-c', 'import tdb') == 0,
    'python3-tdb');

# --- the module, built by its own Makefile into the build dir ---
my $so = build_dir() . '/contrib/exim/authsink_dlfunc.so';
{
    # Not the flags of an enclosing `make asan`: a sanitized module cannot
    # be loaded into Exim.
    local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CC)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CC)};
    my ($rc, $out, $err) = run_cmd('make', '-s', '-C', src_dir() . '/contrib/exim',
        'B=' . build_dir());
    is($rc, 0, 'contrib/exim/Makefile builds the ${dlfunc} module') or diag($out, $err);
    ok(-f $so, "module at $so") or BAIL_OUT('no module');
}

my $dir = private_dir();	# Exim's unprivileged side reads the table here
# Long enough for every check below on a loaded machine; expiry is shown
# with a login logged ttl-6 seconds ago (expiry counts from its time).
my $ttl = 60;
my $d = start_daemon(dir => $dir, extra => "ttl = ${ttl}s\nsweep-interval = 1h\n");
my @t = ('-t', $d->{table});
sub allowed { relayed($d, $_[0]) }

# exim.conf: test paths as macros, then the shipped snippets verbatim.
sub exim_conf_for {
    my ($name, $method, %macro) = @_;
    return exim_conf($dir, $name, $method, AUTHSINK_TABLE => $d->{table},
        AUTHSINK_DLFUNC => $so, AUTHSINK_HELPER => build_dir() . '/authsink', %macro);
}
sub rcpt { exim_rcpt($exim, @_) }
sub expand {
    my ($conf, $string) = @_;
    my ($rc, $out, $err) = run_cmd($exim, '-C', $conf, '-be', $string);
    chomp $out;
    return $rc == 0 ? $out : "ERROR($rc): $out $err";
}

my %conf = map { $_ => exim_conf_for($_, $_) } qw(dlfunc run);
my $FOREIGN = 'someone@foreign.example.net';

# --- before any login: nobody relays, local delivery works ---
for my $m (qw(dlfunc run)) {
    like(rcpt($conf{$m}, '192.0.2.33', $FOREIGN), qr/^550 relay not permitted/,
        "$m: no login yet: relaying refused");
    like(rcpt($conf{$m}, '192.0.2.34', 'postmaster@example.org'), qr/^250 /,
        "$m: a local domain is accepted from anywhere (the ACL itself works)");
}

# --- a login (through the daemon) opens relaying for that address only ---
my $t0 = time;
system($logger, '--server', '127.0.0.1', '--port', $d->{udp}, '--udp', '-p', 'mail.info',
    '-t', 'dovecot', dovecot_login('carol', '192.0.2.33')) == 0 or die;
ok(wait_until(sub { allowed('192.0.2.33') }, 10), 'the login reached the table');

for my $m (qw(dlfunc run)) {
    like(rcpt($conf{$m}, '192.0.2.33', $FOREIGN), qr/^250 Accepted/,
        "$m: relaying accepted from the address that logged in");
    like(rcpt($conf{$m}, '192.0.2.34', $FOREIGN), qr/^550 relay not permitted/,
        "$m: relaying refused from another address");
    like(rcpt($conf{$m}, '::ffff:192.0.2.33', $FOREIGN), qr/^250 Accepted/,
        "$m: IPv4-mapped IPv6 form of the address (as Exim spells it) accepted");
    like(rcpt($conf{$m}, '2001:db8::33', $FOREIGN), qr/^550 /,
        "$m: an IPv6 client not in the table refused");
}
# The same with a real SMTP client, swaks, talking to `exim -bh` (EHLO,
# pipelining and all).
SKIP: {
    my $swaks = (grep { -x } map { "$_/swaks" } split(/:/, $ENV{PATH}))[0];
    BAIL_OUT('swaks is required in CI') if !$swaks && in_ci();
    skip 'swaks not installed (apt-get install swaks)', 4 unless $swaks;
    for my $m (qw(dlfunc run)) {
        for ([ '192.0.2.33', qr/^<-\s+250 Accepted/m, 'accepted' ],
             [ '192.0.2.34', qr/^<\*\*\s+550 relay not permitted/m, 'refused' ]) {
            my ($from, $want, $what) = @$_;
            my (undef, $out) = run_cmd($swaks, '--pipe', "$exim -C $conf{$m} -bh $from",
                '--helo', 'client.test', '--from', 'u@client.test', '--to', $FOREIGN,
                '--quit-after', 'RCPT');
            like($out, $want, "$m: swaks from $from: relaying $what");
        }
    }
}
is(expand($conf{dlfunc}, '${dlfunc{' . $so . '}{authsink_user}{' . $d->{table} . '}{192.0.2.33}}'),
    'carol', 'authsink_user names the user who logged in');
is(expand($conf{dlfunc}, '${dlfunc{' . $so . '}{authsink_user}{' . $d->{table} . '}{192.0.2.34}}'),
    '', 'authsink_user is empty for an address not in the table');
my $took = time - $t0;
cmp_ok($took, '<', $ttl - 1, "the checks above ran within the ttl (${took}s)")
    or diag('machine too slow for this ttl: the results above may be wrong');

# --- fail temporarily, never open ---
my %missing = map { $_ => exim_conf_for("missing-$_", $_,
        AUTHSINK_TABLE => "$dir/no-such-table.tdb") } qw(dlfunc run);
for my $m (qw(dlfunc run)) {
    like(rcpt($missing{$m}, '192.0.2.33', $FOREIGN), qr/^451 /,
        "$m: table missing: RCPT deferred (451), neither relayed nor refused");
}

# Exim runs SMTP sessions as its own user: a table that user cannot read
# defers too (authsinkd creates it 0644; this is what a wrong mode does).
SKIP: {
    skip 'needs root (Exim drops to its user only when started by root)', 2 if $> != 0;
    chmod 0600, $d->{table} or die;
    for my $m (qw(dlfunc run)) {
        like(rcpt($conf{$m}, '192.0.2.33', $FOREIGN), qr/^451 /,
            "$m: table unreadable for the Exim user: RCPT deferred (451)");
    }
    chmod 0644, $d->{table} or die;
}

# A writer that holds the whole table locked (authsinkd stuck mid-commit):
# the module waits at most its lock timeout, then defers.
{
    my $slow = exim_conf_for('slow', 'dlfunc', AUTHSINK_LOCK_TIMEOUT => 300);
    my $pid = hold_table($d->{table}, 'lock_all', 4);
    my $t1 = time;
    like(rcpt($slow, '192.0.2.33', $FOREIGN), qr/^451 /, 'dlfunc: lock held: RCPT deferred');
    my $waited = time - $t1;
    cmp_ok($waited, '<', 2.5, sprintf('dlfunc: Exim was held %.2fs, not until the lock went', $waited));
    waitpid $pid, 0;
    like(rcpt($slow, '192.0.2.33', $FOREIGN), qr/^250 Accepted/,
        'dlfunc: lock released: relaying accepted again');
}

# A commit in progress (authsinkd between prepare and commit): tdb refuses
# read-only opens then. The module retries until its timeout and answers
# once the commit is done, rather than deferring every RCPT that arrives
# while the daemon is busy.
{
    my $patient = exim_conf_for('patient', 'dlfunc', AUTHSINK_LOCK_TIMEOUT => 5000);
    my $pid = hold_table($d->{table}, 'commit', 1);
    my $t1 = time;
    like(rcpt($patient, '192.0.2.33', $FOREIGN), qr/^250 Accepted/,
        'dlfunc: commit in progress: the module waits for it, then accepts');
    my $waited = time - $t1;
    cmp_ok($waited, '>', 0.3, sprintf('dlfunc: it did wait for the commit (%.2fs)', $waited));
    waitpid $pid, 0;
}

# --- after the ttl: refused again, though the entry is still in the file ---
# A login logged ttl-6 seconds ago: allowed for 6 more seconds.
my $then = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time - $ttl + 6));
send_udp($d->{udp}, "<38>1 $then mx dovecot - - - " . dovecot_login('dave', '192.0.2.35'));
ok(wait_until(sub { allowed('192.0.2.35') }, 10), 'a login from ttl-6 seconds ago reached the table');
ok(wait_until(sub { !allowed('192.0.2.35') }, 15), 'the login expired');
like(`$tdbtool $d->{table} keys 2>&1`, qr/192\.0\.2\.35/,
    'the expired entry is still in the table (not swept yet)');
for my $m (qw(dlfunc run)) {
    like(rcpt($conf{$m}, '192.0.2.35', $FOREIGN), qr/^550 relay not permitted/,
        "$m: after expiry relaying is refused again");
}

done_testing;
