#!/usr/bin/perl
# Other programs read the live table while authsinkd commits a stream of
# logins: tdbtool (check, show), python3-tdb (a full read-only scan, over
# and over) and the Exim ${dlfunc} module. Nobody may see a torn value,
# lose an entry that was there, or be refused an open for long.
#
# The python reader follows the recipe for any read-only tdb reader of
# the table (see contrib/exim/README.md): open O_RDONLY, retrying while a
# commit is in progress (tdb refuses read-only opens then), and turn fcntl
# read locks back on (tdb disables them for read-only opens), so every
# record is read under its chain lock and never half written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use IO::Socket::INET;

my $tdbtool = need_program('tdbtool', 'tdb-tools');
need_peer(-x '/usr/bin/python3' && system('/usr/bin/python3', '-c', 'import tdb') == 0,
    'python3-tdb (apt-get install python3-tdb)');

my $d = start_daemon(dir => private_dir(), extra => "ttl = 30m\nsweep-interval = 1h\n");
my @t = ('-t', $d->{table});
sub allowed { relayed($d, $_[0]) }

# A login that is in the table before the stream starts, read all along.
send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login('fixed', '192.0.2.5'));
ok(wait_until(sub { allowed('192.0.2.5') }), 'a first login is in the table');

# The Exim module, when Exim and its header are there (mandatory in CI).
my ($exim, $so);
SKIP: {
    my $e = (grep { -x } map { "$_/exim4" } split(/:/, $ENV{PATH}), '/usr/sbin')[0];
    my $have = $e && `$e -bV 2>&1` =~ /\bExpand_dlfunc\b/ && -f '/usr/include/exim4/local_scan.h';
    BAIL_OUT('exim4-daemon-heavy and exim4-dev are required in CI') if !$have && in_ci();
    skip 'no Exim with ${dlfunc} and exim4-dev: module not read under load', 1 unless $have;
    local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CC)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CC)};
    my ($rc, $out, $err) = run_cmd('make', '-s', '-C', src_dir() . '/contrib/exim',
        'B=' . build_dir());
    is($rc, 0, 'Exim module built') or diag($out, $err);
    ($exim, $so) = ($e, build_dir() . '/contrib/exim/authsink_dlfunc.so') if $rc == 0;
}

# --- the reader: full scans until told to stop, a JSON summary at the end ---
my $stop = "$d->{dir}/stop-readers";
my $summary = "$d->{dir}/python.json";
my $py = write_file("$d->{dir}/reader.py", <<'EOP');
import ipaddress, json, os, re, sys, time, tdb
path, stop, out = sys.argv[1:4]
value_re = re.compile(rb'^expires=\d+ first=\d+ last=\d+ count=\d+( user=\S+)? rule=\S+$')
s = dict(passes=0, open_retries=0, longest_open_ms=0, errors=[], bad_values=0,
         bad_keys=0, decreased=0, fixed_missing=0, counts=[])
last = -1
def scan():
    t0 = time.time()
    while True:
        try:
            db = tdb.Tdb(path, 0, tdb.DEFAULT, os.O_RDONLY)
            break
        except (OSError, RuntimeError):
            s['open_retries'] += 1
            if time.time() - t0 > 5:
                raise
            time.sleep(0.002)
    s['longest_open_ms'] = max(s['longest_open_ms'], int((time.time() - t0) * 1000))
    db.remove_flags(tdb.NOLOCK)
    n = 0; fixed = False
    try:
        for k in db.keys():
            if k.startswith(b'!'):
                continue
            v = db.get(k)
            if v is None:
                continue
            try:
                if str(ipaddress.ip_address(k.decode())) != k.decode():
                    s['bad_keys'] += 1
            except ValueError:
                s['bad_keys'] += 1
            if not value_re.match(v):
                s['bad_values'] += 1
            if k == b'192.0.2.5':
                fixed = v.endswith(b' user=fixed rule=dovecot-login')
            n += 1
    finally:
        db.close()
    return n, fixed
final = False
while True:
    final = os.path.exists(stop)
    try:
        n, fixed = scan()
    except Exception as e:
        s['errors'].append(repr(e))
        if len(s['errors']) > 20:
            break
        continue
    s['passes'] += 1
    if n < last:
        s['decreased'] += 1
    last = n
    if not fixed:
        s['fixed_missing'] += 1
    if not s['counts'] or s['counts'][-1] != n:
        s['counts'].append(n)
    if final:
        break
s['last'] = last
with open(out, 'w') as f:
    json.dump(s, f)
EOP
my $reader = fork // die;
if ($reader == 0) {
    exec '/usr/bin/python3', $py, $d->{table}, $stop, $summary or POSIX::_exit(127);
}

# --- the writer: ~40000 logins over about 4 seconds ---
my $n_logins = 40000;
my $writer = fork // die;
if ($writer == 0) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $d->{udp},
        Proto => 'udp') or POSIX::_exit(1);
    for my $i (1 .. $n_logins) {
        my $ip = sprintf('198.18.%d.%d', $i >> 8, $i & 255);
        $s->send("<38>1 - mx dovecot - - - " . dovecot_login("u$i", $ip));
        sleep 0.01 if $i % 100 == 0;
    }
    POSIX::_exit(0);
}

# --- meanwhile: tdbtool, the Exim module and the helper ---
my (%tdbtool, %exim, %helper);
my @helper_errors;
while (waitpid($writer, WNOHANG) != $writer) {
    my $check = `$tdbtool $d->{table} check 2>&1`;
    $tdbtool{check}++;
    $tdbtool{check_ok}++ if $check =~ /integrity is OK/i;
    my $show = `$tdbtool $d->{table} show 192.0.2.5 2>&1`;
    $tdbtool{show}++;
    $tdbtool{show_ok}++ if $show =~ /expires=/;
    if ($exim) {
        my ($rc, $out, $err) = run_cmd($exim, '-be',
            '${dlfunc{' . $so . '}{authsink_check}{' . $d->{table} . '}{192.0.2.5}}');
        $exim{n}++;
        $exim{yes}++ if $rc == 0 && $out =~ /^yes$/;
        diag("exim -be: $rc $out $err") if $rc != 0 || $out !~ /^yes$/;
    }
    my ($rc, undef, $err) = authsink(@t, 'check', '192.0.2.5');
    $helper{n}++;
    $helper{yes}++ if $rc == 0;
    push @helper_errors, $err if $rc != 0;
}
is($?, 0, 'the writer sent its logins');

# Let the daemon drain its socket and commit, then one last scan.
my $prev = -1;
wait_until(sub { my $n = () = `$tdbtool $d->{table} keys` =~ /^key/mg;
    my $same = $n == $prev; $prev = $n; $same && sleep 0.3 }, 30);
write_file($stop, '');
waitpid $reader, 0;
is($?, 0, 'python3-tdb reader exited cleanly');
my $py_s = decode_json(Authsink::slurp($summary) || '{}');
note('python3-tdb: ' . encode_json({ map { $_ => $py_s->{$_} } grep { $_ ne 'counts' } keys %$py_s })
    . ' distinct counts seen: ' . scalar(@{ $py_s->{counts} // [] }));

cmp_ok($py_s->{passes} // 0, '>=', 5, 'python3-tdb: several full scans of the live table');
cmp_ok(scalar(@{ $py_s->{counts} // [] }), '>=', 3,
    'python3-tdb: the table grew while it was being read');
is_deeply($py_s->{errors}, [], 'python3-tdb: no errors');
is($py_s->{bad_values}, 0, 'python3-tdb: every value is a whole, well-formed line');
is($py_s->{bad_keys}, 0, 'python3-tdb: every key is a canonical address');
is($py_s->{decreased}, 0, 'python3-tdb: no scan lost entries an earlier one saw');
is($py_s->{fixed_missing}, 0, 'python3-tdb: the first login was seen, intact, in every scan');
cmp_ok($py_s->{longest_open_ms} // 1e9, '<', 2000, 'python3-tdb: open never waited long');

my ($lrc, $json) = authsink(@t, 'list', '--json');
my $live = () = @{ decode_json($json) };
is($py_s->{last}, $live, "the last scan saw exactly the live entries authsink lists ($live)");
# UDP under a flood drops what the socket buffer cannot hold; what matters
# is that the daemon committed all along while the readers read.
cmp_ok($live, '>', 1000, 'thousands of logins were committed during the reads');

cmp_ok($tdbtool{check} // 0, '>=', 3, "tdbtool check ran $tdbtool{check} times during the stream");
is($tdbtool{check_ok}, $tdbtool{check}, 'tdbtool check: integrity OK every time');
is($tdbtool{show_ok}, $tdbtool{show}, 'tdbtool show: the entry, every time');
like(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i, 'tdbtool check after the stream');

SKIP: {
    skip 'no Exim module', 2 unless $exim;
    cmp_ok($exim{n} // 0, '>=', 3, "Exim ran the module $exim{n} times during the stream");
    is($exim{yes}, $exim{n}, 'the ${dlfunc} module answered yes every time, never an error');
}

# The same for the helper. A commit held open between prepare and commit
# makes the failure deterministic: tdb refuses read-only opens meanwhile.
my $holder = hold_table($d->{table}, 'commit', 1);
my ($hrc, undef, $herr) = authsink(@t, 'check', '192.0.2.5');
waitpid $holder, 0;

is($helper{yes}, $helper{n}, "authsink check answered yes all $helper{n} times during the stream")
    or diag('first errors: ', join('', @helper_errors[0 .. ($#helper_errors < 2 ? $#helper_errors : 2)]));
is($hrc, 0, 'authsink check answers yes while a commit is in progress') or diag($herr);

done_testing;
