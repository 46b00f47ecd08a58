#!/bin/sh
# contrib/run-local.sh BUILD_DIR - what `make run` starts: authsinkd in the
# foreground with debug logging on a built-in-style local configuration
# that needs no root: UDP 127.0.0.1:5514, a UNIX datagram socket and the
# table under ./run/.
set -eu
build=${1:-build}
top=$(pwd)
state=$top/run
mkdir -p "$state"
cat > "$state/authsink.conf" <<EOC
# written by make run; see man/authsink.conf.5
listen    = udp:127.0.0.1:5514
listen    = unix-dgram:$state/log.sock
table     = $state/relay.tdb
rules-dir = $top/rules.d
pidfile   = $state/authsinkd.pid
dumpfile  = $state/authsinkd.dump
EOC
cat <<EOM
authsinkd is starting in the foreground (Ctrl-C stops it). In another terminal:

  logger --server 127.0.0.1 --port 5514 --udp -t dovecot 'imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, mpid=1, TLS, session=<x>'
  $build/authsink -t $state/relay.tdb check 192.0.2.7; echo \$?    # 0: may relay
  $build/authsink -t $state/relay.tdb check 192.0.2.8; echo \$?    # 1: may not
  $build/authsink -t $state/relay.tdb list

EOM
exec "$build/authsinkd" -f -d -c "$state/authsink.conf"
