#!/usr/bin/perl
# tailer.pl - the documented file-tailer baseline of `make bench`:
#
#     tail -n0 -F /var/log/mail.log | perl tailer.pl DBFILE
#
# what a site without pop-before-smtp would script: each Dovecot login line
# (pop-before-smtp 1.42's own Dovecot pattern) puts its IPv4 address into a
# Berkeley DB hash DBFILE.db with DB_File, and the hash is synced after
# every chunk read, so a reader (Postfix's hash: map) sees it. No expiry,
# no IPv6, no locking: it is only the tail -> regex -> DB path, to time.
use strict;
use warnings;
use DB_File;
use Fcntl;

my $db = shift // die "usage: tailer.pl DBFILE < log\n";
my %h;
my $dbh = tie(%h, 'DB_File', "$db.db", O_CREAT | O_RDWR, 0644, $DB_HASH)
    or die "tailer.pl: $db.db: $!\n";
my $pat = qr/^\w\w\w +\d+ \d+:\d+:\d+ \S+ (?:dovecot: )?(?:imap|pop3)-login: Login: .*? (?:\[|rip=)[:f]*(\d+\.\d+\.\d+\.\d+)[],]/;
my $buf = '';
$| = 1;
while (1) {
    my $n = sysread(STDIN, $buf, 65536, length $buf);
    last unless $n;
    my $end = rindex($buf, "\n");
    next if $end < 0;
    my $changed = 0;
    for my $line (split /\n/, substr($buf, 0, $end + 1, '')) {
        if ($line =~ $pat) {
            $h{$1} = 'ok';
            $changed = 1;
        }
    }
    $dbh->sync if $changed;
}
