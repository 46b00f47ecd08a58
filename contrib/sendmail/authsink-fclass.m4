dnl contrib/sendmail/authsink-fclass.m4 - relay for the addresses in the
dnl text file authsinkd exports, as a class, the way EXACT and
dnl pop-before-smtp fed Sendmail. In authsink.conf:
dnl     export        = /var/lib/authsink/relay.txt
dnl     export-format = sendmail      (IPv6 as IPv6:ADDR, like {client_addr})
dnl Add to sendmail.mc, after OSTYPE:
dnl     include(/etc/mail/authsink-fclass.m4)
dnl Sendmail reads a class file when it starts, so it only sees a new list
dnl after a restart or SIGHUP: reload it when the file changes (see
dnl README.md), or use authsink-socketmap.m4, which asks at every RCPT. -o:
dnl a missing file is an empty class, nobody relays. The file's directory
dnl path must be safe (not world writable). If you already have a
dnl Local_check_rcpt ruleset, merge the rules into it.
dnl Proven with sendmail -bt by t/peer-sendmail.t.
LOCAL_CONFIG
F{AuthsinkRelay} -o /var/lib/authsink/relay.txt
LOCAL_RULESETS
SLocal_check_rcpt
R$*			$: $&{client_addr}
R$={AuthsinkRelay}	$# OK
