#!/usr/bin/perl
# The relay table under attack while authsinkd runs: removed, replaced by
# garbage, corrupted in place, made read-only, on a full disk. Each time
# the daemon logs it, keeps receiving and recovers without exiting.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Authsink;
use Time::HiRes qw(sleep);

my $tdbtool = need_program('tdbtool', 'tdb-tools');
my $n = 0;

sub login_visible {
    my ($d, $ip, @prefix) = @_;
    send_udp($d->{udp}, "<38>1 - mx dovecot - - - " . dovecot_login("u" . ++$n, $ip));
    return wait_until(sub { (run_cmd(@prefix, build_dir() . '/authsink', '-t',
        $d->{table}, 'check', $ip))[0] == 0 }, 10);
}


my $d = start_daemon(listen => ['udp:127.0.0.1:' . free_port()]);
($d->{udp}) = Authsink::slurp($d->{conf}) =~ /udp:127\.0\.0\.1:(\d+)/;
ok(login_visible($d, '192.0.2.1'), 'baseline login');

unlink $d->{table} or die;
ok(login_visible($d, '192.0.2.2'), 'table removed: recreated, next login recorded');
like(Authsink::slurp($d->{log}), qr/relay table \S+ reopened/,
    '  and the log says so');

{   # Replaced by garbage (rename over it, as a careless restore would).
    open my $g, '>', "$d->{table}.new" or die;
    print $g "this is not a tdb file\n" x 300;
    close $g;
    rename "$d->{table}.new", $d->{table} or die;
}
ok(login_visible($d, '192.0.2.3'), 'table replaced by garbage: recovered');
like(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i, '  tdbtool check passes');

{   # Corrupted in place: garbage over part of the open file's hash table.
    open my $f, '+<', $d->{table} or die;
    seek $f, 2000, 0;
    print $f "\xff" x 4000;
    close $f;
}
unlike(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i, 'table corrupted in place');
kill 'ALRM', $d->{pid};
ok(wait_until(sub { Authsink::slurp($d->{log}) =~ /was corrupt: \d+ entries rescued/ }),
    '  the sweep notices and rescues what it can');
ok(scalar(glob("$d->{table}.corrupt.*")), '  the damaged file is kept aside');
like(`$tdbtool $d->{table} check 2>&1`, qr/integrity is OK/i, '  the new table is sound');
ok(login_visible($d, '192.0.2.4'), '  and takes new logins');
ok(kill(0, $d->{pid}), 'daemon still running');

chmod 0444, $d->{table};
ok(login_visible($d, '192.0.2.5'), 'table made read-only: the open file still takes logins');
chmod 0644, $d->{table};

# --- disk full: a tiny tmpfs in a private mount namespace ---
SKIP: {
    skip 'disk-full test needs root (mount namespace)', 4 if $> != 0;
    my $port = free_port();
    my $df = Authsink::start_daemon_small_disk(listen => ["udp:127.0.0.1:$port"]);
    $df->{udp} = $port;
    my ($small, @ns) = ($df->{small}, @{ $df->{ns} });
    ok(login_visible($df, '198.51.100.1', @ns), 'tmpfs table works');
    system(@ns, 'sh', '-c', "dd if=/dev/zero of=$small/filler bs=4k 2>/dev/null; true");
    for my $i (1 .. 3000) {   # enough new entries to need more pages
        send_udp($port, "<38>1 - mx dovecot - - - " . dovecot_login("f$i",
            sprintf("198.51.%d.%d", 101 + int($i / 250), $i % 250 + 1)));
    }
    ok(wait_until(sub { counter($df, 'commit_errors') > 0 }, 10),
        'disk full: commits fail and are counted');
    ok(kill(0, $df->{pid}), '  the daemon keeps running');
    system(@ns, 'rm', '-f', "$small/filler");
    ok(login_visible($df, '198.51.100.2', @ns), 'space freed: logins recorded again');
    Authsink::stop_daemon($df);
}

is(Authsink::stop_daemon($d), 0, 'clean exit after all that')
    or diag(Authsink::slurp($d->{log}));
done_testing;
