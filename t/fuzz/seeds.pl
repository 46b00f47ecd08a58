#!/usr/bin/perl
# seeds.pl OUTDIR - write the seed corpora of the fuzz targets (t/fuzz/*.c)
# into OUTDIR/TARGET/, from what the tests already hold:
#   t/data/syslog-vectors.txt   messages          frame, syslog, rules
#   t/rules/*.txt               real log lines    rules, rulefile (#msg)
#   t/rules/prefilter.tab       EREs              prefilter
#   rules.d/*.rules, t/rules/engine.d/*.rules, t/data/bad-rules/*.rules
#                                                 rulefile, prefilter
#   contrib/authsink.conf + the hand-written configs below   config
#   t/fuzz/regress/TARGET/*     inputs that once found a bug   any
# Every seed carries the input prefix its target expects (see each .c).
use strict;
use warnings;
use FindBin;
use Digest::MD5 qw(md5_hex);
use File::Path qw(make_path);

my $out = shift // die "usage: $0 OUTDIR\n";
my $src = "$FindBin::Bin/../..";
my %n;

sub seed {
    my ($target, $bytes) = @_;
    make_path("$out/$target");
    my $f = "$out/$target/" . md5_hex($bytes);
    return if -e $f;
    open my $h, '>:raw', "$f.$$" or die "$f.$$: $!";	# runs may overlap
    print $h $bytes;
    close $h or die "$f.$$: $!";
    rename "$f.$$", $f or die "$f: $!";
    $n{$target}++;
}

sub slurp { my ($f) = @_; local $/; open my $h, '<:raw', $f or die "$f: $!"; <$h> }

# syslog-vectors.txt: "in:" values with C escapes (see the file's header).
sub unescape {
    my ($s) = @_;
    $s =~ s/\\(x([0-9A-Fa-f]{2})|[\\nrt0])/
        defined $2 ? chr(hex $2) : { '\\' => '\\', n => "\n", r => "\r", t => "\t", 0 => "\0" }->{$1}/ge;
    return $s;
}
my @msgs;
for (split /\n/, slurp("$src/t/data/syslog-vectors.txt")) {
    push @msgs, unescape($1 // "") if /^in:(?: (.*))?$/;
}

# Log lines of the rule tests, and which file they came from.
my %lines;
for my $f (glob("$src/t/rules/*.txt"), "$src/t/rules/engine.d/engine.txt") {
    my ($name) = $f =~ m{([^/]+)\.txt$};
    for (split /\r?\n/, slurp($f)) {
        next if /^#/ || /^=>/ || !/\S/;
        push @{ $lines{$name} }, $_;
    }
}
my @log = map { @$_ } values %lines;

# --- fuzz-syslog: 4 bytes reception time, 1 byte zone, the message ---
my $now = pack('V', 1795586400 - 946684800);
for my $m (@msgs, @log) {
    seed('syslog', $now . "\0" . $m);
    seed('syslog', $now . "\1" . $m);
}

# --- fuzz-frame: cap selector, 4 bytes chunk seed, a stream ---
my $i = 0;
while ($i < @msgs) {
    my @group = grep { defined } @msgs[$i .. $i + 3];
    $i += 4;
    my $counted = join '', map { length($_) . " $_" } @group;
    my $lf = join '', map { (my $x = $_) =~ s/\n//g; "$x\n" } @group;
    seed('frame', chr($i % 9) . pack('V', $i * 2654435761 % 2**32) . $counted . $lf);
    seed('frame', chr(8) . pack('V', $i + 1) . $lf . $counted);
}
seed('frame', "\x07\1\2\3\4" . "9999999999 x");
seed('frame', "\x00\1\2\3\4" . "5 abcde\n\r\0" . "abc\n" . "3 ab");

# --- fuzz-rules: mode 0 = raw message, mode 1 = forged login ---
seed('rules', "\0" . $_) for @log, @msgs;
my @users = ('alice', 'a>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, x',
    'x, ip=[6.6.6.6]', 'x host=evil [6.6.6.6]', 'x" at (h) 6.6.6.6',
    'x 0 0 0 0 h 6.6.6.6', 'u [6.6.6.6]', "bob\x{1}");
for my $t (0 .. 13) {
    seed('rules', "\1" . chr($t) . "$_\nclient.example.net") for @users;
}

# --- fuzz-config ---
seed('config', slurp("$src/contrib/authsink.conf"));
seed('config', <<'EOC');
listen = udp:127.0.0.1:5514
listen = udp:[::1]:5514 allow-from=192.0.2.0/24,2001:db8::/32
listen = tcp:127.0.0.1:5514
listen = unix-dgram:/run/authsink/log.sock mode=0660 owner=0 group=0 peer-uid=0,root
listen = unix:/run/authsink/log.stream mode=0600
allow-from = 198.51.100.0/24 2001:db8::/48
never-relay = 0.0.0.0/8, 192.0.2.1
table = /var/lib/authsink/relay.tdb
rules-dir = /etc/authsink/rules.d
pidfile = /run/authsink/authsinkd.pid
dumpfile = /run/authsink/authsinkd.dump
export = /var/lib/authsink/relay.txt
export-format = postfix
user = authsink
ttl = 30m
max-session = 12h
commit-interval = 100ms
sweep-interval = 60s
idle-timeout = 0
max-connections = 256
max-message = 8192
socket-mode = 0666
sync = yes
relay-private = no
trust-timestamps = off
EOC
seed('config', "ttl = 2h # comment\n\n  # only a comment\nbogus = 1\n");
seed('config', "listen = tcp:[::1]:99999\n");

# --- fuzz-rulefile: rule files with "#msg" lines of their server ---
for my $f (glob("$src/rules.d/*.rules"), glob("$src/t/rules/engine.d/*.rules"),
    glob("$src/t/data/bad-rules/*.rules")) {
    my ($name) = $f =~ m{([^/]+)\.rules$};
    my $text = slurp($f);
    seed('rulefile', $text);
    my @l = @{ $lines{$name} // $lines{engine} // [] };
    seed('rulefile', $text . join('', map { "#msg $_\n" } grep { defined } @l[0 .. 7]))
        if @l;
}

# --- fuzz-prefilter: an ERE, LF, a text ---
my @pats;
for (split /\n/, slurp("$src/t/rules/prefilter.tab")) {
    push @pats, $_ unless /^#/ || /^=>/ || !/\S/;
}
for my $f (glob("$src/rules.d/*.rules"), glob("$src/t/rules/engine.d/*.rules")) {
    for (split /\r?\n/, slurp($f)) {
        push @pats, $1 if /^\s*match\s*=\s*(.*?)\s*$/;
    }
}
for my $p (@pats) {
    seed('prefilter', "$p\n");
    seed('prefilter', "$p\n" . $log[length($p) % @log]);
    (my $lit = $p) =~ s/[^A-Za-z0-9 ,:=<>]//g;	# a text near the pattern
    seed('prefilter', "$p\n$lit");
}
seed('prefilter', "(?i)login\nLOGIN");
seed('prefilter', "a{2}b\naab");

# --- hand-picked regression inputs: t/fuzz/regress/TARGET/* ---
for my $f (glob("$src/t/fuzz/regress/*/*")) {
    my ($target) = $f =~ m{regress/([^/]+)/};
    seed($target, slurp($f));
}

printf "%s: %d seeds\n", $_, $n{$_} // 0 for sort keys %n;
