# AuthsinkExim.pm - a private Exim configuration built from the shipped
# contrib/exim/ files, and SMTP sessions run through it with
# `exim -C CONF -bh ADDR` (no daemon, no spool of the system's Exim).
package AuthsinkExim;
use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use Authsink;

our @EXPORT = qw(exim_conf exim_rcpt);

# exim_conf(DIR, NAME, ACL, MACRO => VALUE, ...): DIR/NAME/exim.conf with
# the macros, then contrib/exim/authsink-macros.conf and
# contrib/exim/authsink-ACL.acl verbatim in acl_check_rcpt, before the
# statement that refuses relaying. Returns its path.
sub exim_conf {
    my ($dir, $name, $acl, %macro) = @_;
    my $src = src_dir();
    mkdir "$dir/$name";
    return write_file("$dir/$name/exim.conf",
        join('', map { "$_ = $macro{$_}\n" } sort keys %macro) . <<"EOC");
.include $src/contrib/exim/authsink-macros.conf
primary_hostname = mx.example.org
domainlist local_domains = example.org
spool_directory = $dir/$name/spool
log_file_path = $dir/$name/%slog
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept  domains = +local_domains
.include $src/contrib/exim/authsink-$acl.acl
  deny    message = relay not permitted
EOC
}

# exim_rcpt(EXIM, CONF, FROM, TO): one SMTP session as if from address
# FROM; returns the reply to RCPT TO:<TO>, or what went wrong.
sub exim_rcpt {
    my ($exim, $conf, $from, $to) = @_;
    (my $dir = $conf) =~ s{/[^/]*$}{};
    my $in = write_file("$dir/smtp.in", "HELO client.test\r\nMAIL FROM:<u\@client.test>\r\n"
        . "RCPT TO:<$to>\r\nQUIT\r\n");
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', $in or POSIX::_exit(126);
        open STDERR, '>', "$dir/exim.err";
        exec $exim, '-C', $conf, '-bh', $from or POSIX::_exit(127);
    }
    my @final = grep { /^\d{3} / } map { s/\r?\n\z//r } <$out>;
    close $out;
    # 220 greeting, 250 HELO, 250 MAIL, RCPT, 221
    return $final[3] // ('no RCPT reply: ' . join(' | ', @final) . ' '
        . Authsink::slurp("$dir/exim.err"));
}

1;
