dnl contrib/sendmail/authsink-socketmap.m4 - relay for clients that logged in
dnl by POP3/IMAP, asking authsink over the socketmap protocol at every RCPT.
dnl Add to sendmail.mc (Debian: /etc/mail/sendmail.mc), after OSTYPE,
dnl with    include(/etc/mail/authsink-socketmap.m4)
dnl and run authsink serve socketmap:tcp:127.0.0.1:10027 (contrib/systemd/
dnl authsink-serve.service), or socket-activate authsink socketmap
dnl (contrib/systemd/authsink-socketmap.socket). A UNIX socket works too
dnl (unix:/run/authsink/socketmap.sock) if no directory above it is world
dnl writable: Sendmail refuses "unsafe" socket paths.
dnl   live address            -> $# OK: relaying allowed
dnl   NOTFOUND (or no address) -> the usual checks decide (550 Relaying denied)
dnl   TEMP, or no answer      -> 451 4.3.0: the client retries
dnl Sendmail's {client_addr} is IPv6:ADDR for IPv6 clients; authsink accepts
dnl that form. If you already have a Local_check_rcpt ruleset, merge the
dnl rules into it. Proven with sendmail -bt by t/peer-sendmail.t.
LOCAL_CONFIG
Kauthsink socket -T<TMPF> inet:10027@127.0.0.1
LOCAL_RULESETS
SLocal_check_rcpt
R$*			$: < $&{client_addr} >
R< $+ >			$: < $(authsink $1 $: NOTFOUND $) >
R< NOTFOUND >		$@ NOTFOUND
R< $* <TMPF> >		$#error $@ 4.3.0 $: "451 4.3.0 Relay check temporarily unavailable"
R< $+ >			$# OK
